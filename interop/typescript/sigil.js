/**
 * Sigil v1 tokens, keysets and revocation lists, verified as docs/FORMAT.md says.
 *
 * One ES module over WebCrypto (`crypto.subtle`) and nothing else, so the same code runs on
 * Node ≥ 20, Deno, Bun and Cloudflare Workers. Everything that touches a key is async.
 *
 * ```ts
 * const keyset = loadKeyset(keysetJSON);
 * const store = new RevocationStore(keyset.revocationKeys, { whenNoList: "fail_closed" });
 * new RevocationFollower("https://issuer.example/v1/revocations", store).start();
 * const verifier = await Verifier.fromKeyset(keyset, { revocations: store });
 * const result = await verifier.verify(token, new Permission("devices.list", "read"));
 * ```
 *
 * Node's file watcher lives in `./node.js`, so this module imports nothing.
 */
// ---------------------------------------------------------------------------------------------
// Constants (docs/FORMAT.md)
export const MAX_TOKEN_TEXT = 4096;
export const TAG_LENGTH = 32;
export const MAX_SCOPE_ENTRIES = 256;
export const DEFAULT_LEEWAY = 60;
export const MAX_LEEWAY = 86400;
export const REVOCATION_DEFAULT_MAX_BYTES = 64 << 20;
/** The media types sigil-server answers `GET /v1/revocations` with: a full list, a delta (§4.3). */
export const REVOCATIONS_MEDIA_TYPE = "application/vnd.sigil.revocations";
export const REVOCATION_DELTA_MEDIA_TYPE = "application/vnd.sigil.revocation-delta";
export const KEYSET_FORMAT = "sigil-keyset-v1";
export const KEYSET_MAX_BYTES = 1 << 20;
/** Token reason codes in the order the verifier checks them (§3). */
export const REASONS = [
    "malformed",
    "wrong_audience",
    "unknown_key",
    "bad_signature",
    "revocations_stale",
    "revoked",
    "deactivated",
    "not_yet_valid",
    "expired",
    "scope_not_granted",
];
/** Revocation list and delta refusal reasons (§4.2, §4.3), plus `io` for a file that cannot be read. */
export const LIST_REASONS = [
    "too_large",
    "malformed",
    "unsupported_version",
    "unknown_key",
    "bad_signature",
    "rollback",
    "equivocation",
    "delta_base_mismatch",
    "io",
];
const TOKEN_VERSION = 1;
const SCOPE_ALL = 1;
const SCOPE_READ_ONLY = 2;
const SCOPE_CUSTOM = 3;
const REVOCATION_VERSION = 1;
const DELTA_VERSION = 1;
const REVOCATION_ENTRY_SIZE = 17;
const REVOCATION_SIGNATURE_SIZE = 64;
const STATUS_DEACTIVATED = 1;
const STATUS_REVOKED = 2;
const ASCII = new TextEncoder();
const REVOCATION_CONTEXT = ASCII.encode("sigil/v1/revocations\0");
const HKDF_INFO_PREFIX = ASCII.encode("sigil/v1/token\0");
// ---------------------------------------------------------------------------------------------
// Errors
/** A stable `reason` code and a `detail` that is safe to log (never a token or key). */
export class SigilError extends Error {
    reason;
    detail;
    constructor(reason, detail = "") {
        super(detail ? `[${reason}] ${detail}` : `[${reason}]`);
        this.reason = reason;
        this.detail = detail;
    }
}
/** A token was refused; `reason` is one of REASONS. */
export class VerificationError extends SigilError {
    constructor(reason, detail = "") {
        super(reason, detail);
        this.name = "VerificationError";
    }
}
/** A revocation list was refused; `reason` is one of LIST_REASONS. */
export class RevocationListError extends SigilError {
    constructor(reason, detail = "") {
        super(reason, detail);
        this.name = "RevocationListError";
    }
}
/** A keyset or verifier configuration that cannot be used (a programming or deployment error). */
export class KeysetError extends Error {
    constructor(message) {
        super(message);
        this.name = "KeysetError";
    }
}
// ---------------------------------------------------------------------------------------------
// Base64url (RFC 4648 §5), strict: no padding, URL alphabet only, no length ≡ 1 (mod 4), unused
// bits zero, so every byte string has exactly one accepted text.
const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++)
    B64_VALUE[B64_ALPHABET.charCodeAt(i)] = i;
/** Unpadded base64url. */
export function b64urlEncode(data) {
    let out = "";
    let i = 0;
    for (; i + 3 <= data.length; i += 3) {
        const n = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
        out += B64_ALPHABET[n >> 18] + B64_ALPHABET[(n >> 12) & 63] + B64_ALPHABET[(n >> 6) & 63] + B64_ALPHABET[n & 63];
    }
    const rest = data.length - i;
    if (rest === 1) {
        const n = data[i] << 16;
        out += B64_ALPHABET[n >> 18] + B64_ALPHABET[(n >> 12) & 63];
    }
    else if (rest === 2) {
        const n = (data[i] << 16) | (data[i + 1] << 8);
        out += B64_ALPHABET[n >> 18] + B64_ALPHABET[(n >> 12) & 63] + B64_ALPHABET[(n >> 6) & 63];
    }
    return out;
}
/** Decodes `text.slice(start)` as canonical unpadded base64url, or returns null for anything else. */
function decodeB64url(text, start) {
    const length = text.length - start;
    const rest = length & 3;
    if (rest === 1)
        return null;
    const out = new Uint8Array((length >> 2) * 3 + (rest ? rest - 1 : 0));
    let o = 0;
    let i = start;
    const full = start + length - rest;
    for (; i < full; i += 4) {
        const a = text.charCodeAt(i), b = text.charCodeAt(i + 1), c = text.charCodeAt(i + 2), d = text.charCodeAt(i + 3);
        // Checked first so the table is never indexed past its end.
        if ((a | b | c | d) > 127)
            return null;
        const va = B64_VALUE[a], vb = B64_VALUE[b], vc = B64_VALUE[c], vd = B64_VALUE[d];
        if ((va | vb | vc | vd) < 0)
            return null;
        const n = (va << 18) | (vb << 12) | (vc << 6) | vd;
        out[o++] = n >> 16;
        out[o++] = (n >> 8) & 255;
        out[o++] = n & 255;
    }
    if (rest) {
        // With two characters left, "A" (value 0) stands in for the absent third.
        const a = text.charCodeAt(i), b = text.charCodeAt(i + 1), c = rest === 3 ? text.charCodeAt(i + 2) : 65;
        if ((a | b | c) > 127)
            return null;
        const va = B64_VALUE[a], vb = B64_VALUE[b], vc = B64_VALUE[c];
        if ((va | vb | vc) < 0)
            return null;
        // The unused low bits of the last character must be zero, or two texts would decode alike.
        if (rest === 2 ? vb & 15 : vc & 3)
            return null;
        const n = (va << 18) | (vb << 12) | (vc << 6);
        out[o++] = n >> 16;
        if (rest === 3)
            out[o++] = (n >> 8) & 255;
    }
    return out;
}
/** Decodes canonical unpadded base64url, or returns null for anything else. */
export function b64urlDecode(text) {
    return decodeB64url(text, 0);
}
// ---------------------------------------------------------------------------------------------
// Field rules
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const AUDIENCE = /^[A-Za-z0-9._:-]{1,64}$/;
const PAIR = /^[a-z][a-z0-9_-]{0,31}\.[a-z][a-z0-9_-]{0,31}$/;
/** A key id: 1–32 characters of [A-Za-z0-9_-]. */
export function isValidKid(kid) {
    return KID.test(kid);
}
/** An audience: 1–64 characters of [A-Za-z0-9._:-]. */
export function isValidAudience(audience) {
    return AUDIENCE.test(audience);
}
/** A permission name `resource.action`, each part [a-z][a-z0-9_-]{0,31}. */
export function isValidPair(pair) {
    return PAIR.test(pair);
}
// Byte-level versions for the parsers: no string is built before the bytes are known good.
const KID_BYTE = new Uint8Array(256);
const AUDIENCE_BYTE = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    KID_BYTE[c.charCodeAt(0)] = 1;
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
    AUDIENCE_BYTE[c.charCodeAt(0)] = 1;
function allIn(table, b, from, to) {
    for (let i = from; i < to; i++)
        if (!table[b[i]])
            return false;
    return true;
}
function latin1(b, from, to) {
    return String.fromCharCode.apply(null, b.subarray(from, to));
}
/** Whether `b[from..to)` is `part "." part`, each part [a-z][a-z0-9_-]{0,31}. */
function isPairBytes(b, from, to) {
    let partStart = from;
    let dots = 0;
    for (let i = from; i <= to; i++) {
        const c = i === to ? 0x2e : b[i];
        if (c === 0x2e) {
            const n = i - partStart;
            if (n < 1 || n > 32 || !(b[partStart] >= 0x61 && b[partStart] <= 0x7a))
                return false;
            if (++dots > 2)
                return false;
            partStart = i + 1;
        }
        else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d)) {
            return false;
        }
    }
    return dots === 2;
}
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** Lowercase hex. */
export function toHex(b) {
    let s = "";
    for (let i = 0; i < b.length; i++)
        s += HEX[b[i]];
    return s;
}
/** Parses hex of either case, or throws. */
export function fromHex(text) {
    if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text))
        throw new Error("not hex");
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++)
        out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
}
/** Lowercase hyphenated 8-4-4-4-12 form of 16 bytes. */
export function guidText(b, at = 0) {
    const h = HEX;
    return (h[b[at]] + h[b[at + 1]] + h[b[at + 2]] + h[b[at + 3]] + "-" + h[b[at + 4]] + h[b[at + 5]] + "-" +
        h[b[at + 6]] + h[b[at + 7]] + "-" + h[b[at + 8]] + h[b[at + 9]] + "-" + h[b[at + 10]] + h[b[at + 11]] +
        h[b[at + 12]] + h[b[at + 13]] + h[b[at + 14]] + h[b[at + 15]]);
}
/** Parses the 36-character hyphenated form or 32 hex digits, either case. */
export function guidBytes(text) {
    let t = text.trim();
    if (t.length === 36) {
        if (t[8] !== "-" || t[13] !== "-" || t[18] !== "-" || t[23] !== "-")
            throw new Error("not a GUID");
        t = t.replace(/-/g, "");
    }
    if (t.length !== 32 || !/^[0-9a-fA-F]{32}$/.test(t))
        throw new Error("not a GUID");
    return fromHex(t);
}
// ---------------------------------------------------------------------------------------------
// HKDF-SHA256 (RFC 5869) and the per-audience key, over WebCrypto
/** RFC 5869 extract then expand with SHA-256; `length` is 1–8160 bytes. */
export async function hkdfSHA256(ikm, salt, info, length) {
    if (!(length > 0 && length <= 255 * 32))
        throw new RangeError("HKDF-SHA256 output length must be 1..8160 bytes");
    const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, length * 8);
    return new Uint8Array(bits);
}
/** K_aud = HKDF-SHA256(IKM = master secret, salt = empty, info = "sigil/v1/token" 0x00 audience, L = 32). */
export async function audienceKey(masterSecret, audience) {
    if (masterSecret.length !== 32)
        throw new RangeError("a master secret is 32 bytes");
    if (!isValidAudience(audience))
        throw new RangeError("audience must be 1-64 characters of [A-Za-z0-9._:-]");
    const aud = ASCII.encode(audience);
    const info = new Uint8Array(HKDF_INFO_PREFIX.length + aud.length);
    info.set(HKDF_INFO_PREFIX);
    info.set(aud, HKDF_INFO_PREFIX.length);
    return hkdfSHA256(masterSecret, new Uint8Array(0), info, 32);
}
/** An HMAC-SHA256 key for sign and verify. */
export function importHMACKey(key) {
    return crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}
/** Ed25519 verification (RFC 8032, pure) with WebCrypto; false for a key or signature of the wrong size. */
export async function ed25519Verify(publicKey, message, signature) {
    if (signature.length !== 64)
        return false;
    let key;
    if (publicKey instanceof Uint8Array) {
        if (publicKey.length !== 32)
            return false;
        try {
            key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
        }
        catch {
            return false; // not a point on the curve
        }
    }
    else {
        key = publicKey;
    }
    try {
        return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
    }
    catch {
        return false;
    }
}
// ---------------------------------------------------------------------------------------------
// Permissions
/** What a request needs: a `resource.action` name and whether it reads or writes. */
export class Permission {
    name;
    access;
    /** Throws RangeError for a bad name or access: that is the service's programming error (§3). */
    constructor(name, access) {
        if (typeof name !== "string" || !isValidPair(name)) {
            throw new RangeError("permission must be resource.action, each part [a-z][a-z0-9_-]{0,31}");
        }
        if (access !== "read" && access !== "write")
            throw new RangeError("access must be read or write");
        this.name = name;
        this.access = access;
        Object.freeze(this);
    }
}
function permission(p) {
    if (p == null)
        return null;
    return p instanceof Permission ? p : new Permission(p.name, p.access);
}
/** The scope rule of §3: all grants everything, read-only every read, custom exactly its names. */
export function grants(scope, p) {
    if (scope === "all")
        return true;
    if (scope === "read-only")
        return p.access === "read";
    return scope.includes(p.name);
}
/** Claims as the test vectors and `sigil verify --json` write them. */
export function claimsJSON(c) {
    return {
        kid: c.kid,
        audience: c.audience,
        guid: c.guid,
        valid_from: c.validFrom,
        valid_to: c.validTo,
        scope: typeof c.scope === "string" ? c.scope : [...c.scope],
    };
}
function malformed(detail) {
    return new VerificationError("malformed", detail);
}
/** The decoded bytes (body || tag) of a token's text, after the text-level checks of §2. */
export function decodeTokenText(token) {
    if (typeof token !== "string")
        throw malformed("not text");
    // Any non-ASCII character fails the alphabet check below, so UTF-16 length is enough here:
    // a text over 4096 code units is over 4096 bytes, and a shorter one with a non-ASCII
    // character is refused as malformed either way.
    if (token.length > MAX_TOKEN_TEXT)
        throw malformed("longer than 4096 characters");
    if (!token.startsWith("sgl_"))
        throw malformed("missing the sgl_ prefix");
    const n = token.length - 4;
    if (n % 4 === 1 || Math.floor((n * 3) / 4) <= TAG_LENGTH)
        throw malformed("too short or an impossible base64url length");
    const raw = decodeB64url(token, 4);
    if (raw === null)
        throw malformed("not canonical unpadded base64url");
    return raw;
}
/** Strictly parses body || tag (§2 rules 6–13). Anything outside the rules throws `malformed`. */
export function parseTokenBytes(raw) {
    if (raw.length <= TAG_LENGTH)
        throw malformed("too short");
    const end = raw.length - TAG_LENGTH;
    if (raw[0] !== TOKEN_VERSION)
        throw malformed("unknown version");
    if (end < 2)
        throw malformed("truncated at key id");
    let n = raw[1];
    let i = 2 + n;
    if (n < 1 || n > 32 || i > end || !allIn(KID_BYTE, raw, 2, i))
        throw malformed("bad key id field");
    const kid = latin1(raw, 2, i);
    if (i >= end)
        throw malformed("truncated at audience");
    n = raw[i];
    const audStart = i + 1;
    i = audStart + n;
    if (n < 1 || n > 64 || i > end || !allIn(AUDIENCE_BYTE, raw, audStart, i))
        throw malformed("bad audience field");
    const audience = latin1(raw, audStart, i);
    if (i + 33 > end)
        throw malformed("truncated at guid or times");
    const guidAt = i;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const validFrom = view.getBigInt64(i + 16);
    const validTo = view.getBigInt64(i + 24);
    i += 32;
    if (validTo !== 0n && validTo <= validFrom)
        throw malformed("valid_to is not after valid_from");
    const kind = raw[i++];
    let scope;
    if (kind === SCOPE_ALL) {
        scope = "all";
    }
    else if (kind === SCOPE_READ_ONLY) {
        scope = "read-only";
    }
    else if (kind === SCOPE_CUSTOM) {
        if (i + 2 > end)
            throw malformed("truncated at scope count");
        const count = (raw[i] << 8) | raw[i + 1];
        i += 2;
        if (count < 1 || count > MAX_SCOPE_ENTRIES)
            throw malformed("scope count out of range");
        const pairs = [];
        let prevStart = -1;
        let prevEnd = -1;
        for (let k = 0; k < count; k++) {
            if (i >= end)
                throw malformed("truncated in scope");
            n = raw[i++];
            if (n < 3 || i + n > end)
                throw malformed("bad scope entry length");
            if (!isPairBytes(raw, i, i + n))
                throw malformed("bad scope entry");
            if (prevStart >= 0 && compareBytes(raw, prevStart, prevEnd, raw, i, i + n) >= 0) {
                throw malformed("scope entries must be strictly ascending");
            }
            pairs.push(latin1(raw, i, i + n));
            prevStart = i;
            prevEnd = i + n;
            i += n;
        }
        scope = Object.freeze(pairs);
    }
    else {
        throw malformed("unknown scope kind");
    }
    if (i !== end)
        throw malformed("trailing bytes after the scope");
    const claims = {
        kid,
        audience,
        guid: guidText(raw, guidAt),
        validFrom,
        validTo: validTo === 0n ? null : validTo,
        scope,
    };
    return { claims, body: raw.subarray(0, end), tag: raw.subarray(end), guidAt };
}
/** Bytewise order, a shorter prefix first. */
function compareBytes(a, aFrom, aTo, b, bFrom, bTo) {
    const n = Math.min(aTo - aFrom, bTo - bFrom);
    for (let k = 0; k < n; k++) {
        const d = a[aFrom + k] - b[bFrom + k];
        if (d !== 0)
            return d;
    }
    return aTo - aFrom - (bTo - bFrom);
}
/** Parses a token **without checking its MAC**: nothing in it may be trusted yet. */
export function parseToken(token) {
    return parseTokenBytes(decodeTokenText(token));
}
/** The canonical body bytes of `claims` (for tests, examples and benchmarks; services never mint). */
export function encodeBody(claims) {
    const kid = ASCII.encode(claims.kid);
    const aud = ASCII.encode(claims.audience);
    const parts = [TOKEN_VERSION, kid.length, ...kid, aud.length, ...aud, ...guidBytes(claims.guid)];
    const times = new DataView(new ArrayBuffer(16));
    times.setBigInt64(0, BigInt.asIntN(64, claims.validFrom));
    times.setBigInt64(8, BigInt.asIntN(64, claims.validTo ?? 0n));
    parts.push(...new Uint8Array(times.buffer));
    if (claims.scope === "all")
        parts.push(SCOPE_ALL);
    else if (claims.scope === "read-only")
        parts.push(SCOPE_READ_ONLY);
    else {
        parts.push(SCOPE_CUSTOM, claims.scope.length >> 8, claims.scope.length & 255);
        for (const pair of claims.scope) {
            const p = ASCII.encode(pair);
            parts.push(p.length, ...p);
        }
    }
    return Uint8Array.from(parts);
}
/** `sgl_` + base64url(body || HMAC-SHA256(K_aud, body)). Does not validate `claims`: tests use it
 *  to build deliberately broken tokens. Services never mint. */
export async function mint(claims, key) {
    const body = encodeBody(claims);
    const tag = new Uint8Array(await crypto.subtle.sign("HMAC", await importHMACKey(key), body));
    const all = new Uint8Array(body.length + tag.length);
    all.set(body);
    all.set(tag, body.length);
    return "sgl_" + b64urlEncode(all);
}
/** A fixed GUID → status mapping (what the test vectors describe); never stale. */
export class StaticRevocations {
    entries = new Map();
    constructor(entries) {
        for (const [guid, status] of entries) {
            if (status !== "revoked" && status !== "deactivated" && status !== "stale") {
                throw new RangeError("a status is revoked, deactivated or stale");
            }
            this.entries.set(guidText(guidBytes(guid)), status);
        }
    }
    check(guid, at) {
        return this.entries.get(guidText(guid, at)) ?? null;
    }
}
/**
 * Verifies v1 tokens for one audience under a set of K_aud keys (by key id).
 *
 * Immutable after creation. Build one with `await Verifier.create(...)` or
 * `await Verifier.fromKeyset(...)` (WebCrypto imports keys asynchronously).
 */
export class Verifier {
    audience;
    keys;
    leeway;
    leewayBig;
    revocations;
    constructor(audience, keys, options) {
        this.audience = audience;
        this.keys = keys;
        this.leeway = options.leeway ?? DEFAULT_LEEWAY;
        this.leewayBig = BigInt(this.leeway);
        this.revocations = options.revocations ?? null;
        Object.freeze(this);
    }
    /** A verifier for `audience` holding `keys` (key id → 32-byte K_aud). Throws KeysetError. */
    static async create(audience, keys, options = {}) {
        if (!isValidAudience(audience))
            throw new KeysetError("audience is not [A-Za-z0-9._:-]{1,64}");
        const leeway = options.leeway ?? DEFAULT_LEEWAY;
        if (!Number.isSafeInteger(leeway) || leeway < 0 || leeway > MAX_LEEWAY)
            throw new KeysetError("leeway must be 0..86400 seconds");
        const imported = new Map();
        for (const [kid, key] of keys) {
            if (!isValidKid(kid))
                throw new KeysetError("token key id is not [A-Za-z0-9_-]{1,32}");
            if (!(key instanceof Uint8Array) || key.length !== 32)
                throw new KeysetError(`token key ${kid} must be 32 bytes`);
            if (imported.has(kid))
                throw new KeysetError(`key id ${kid} appears twice`);
            imported.set(kid, await importHMACKey(key));
        }
        return new Verifier(audience, imported, options);
    }
    /** A verifier for the keyset's audience and token keys. */
    static fromKeyset(keyset, options = {}) {
        return Verifier.create(keyset.audience, keyset.tokenKeys, options);
    }
    /** Checks 1–4 of §3 (malformed, wrong_audience, unknown_key, bad_signature). */
    async authenticate(token) {
        const parsed = parseToken(token);
        const c = parsed.claims;
        if (c.audience !== this.audience)
            throw new VerificationError("wrong_audience");
        const key = this.keys.get(c.kid);
        if (key === undefined)
            throw new VerificationError("unknown_key", `key id ${c.kid}`); // never another key
        // WebCrypto's HMAC verify compares in constant time (Node: CRYPTO_memcmp).
        if (!(await crypto.subtle.verify("HMAC", key, parsed.tag, parsed.body))) {
            throw new VerificationError("bad_signature", `key id ${c.kid}`);
        }
        return parsed;
    }
    afterMAC(parsed, wanted, now) {
        const c = parsed.claims;
        const t = now === undefined ? BigInt(Math.floor(Date.now() / 1000)) : BigInt(now);
        if (this.revocations !== null) {
            const status = this.revocations.check(parsed.body, parsed.guidAt, t);
            if (status !== null)
                throw new VerificationError(status === "stale" ? "revocations_stale" : status);
        }
        // Exact integers: the same answers as the Swift verifier's overflow-skipping checks.
        if (t + this.leewayBig < c.validFrom)
            throw new VerificationError("not_yet_valid");
        if (c.validTo !== null && t - this.leewayBig >= c.validTo)
            throw new VerificationError("expired");
        if (wanted !== null && !grants(c.scope, wanted))
            throw new VerificationError("scope_not_granted", wanted.name);
        return c;
    }
    /**
     * Returns the claims of a valid token or throws VerificationError (the first failed check).
     * A bad permission throws RangeError (a programming error, not a token outcome).
     * `now` is Unix seconds (default: the clock).
     */
    async check(token, wanted, now) {
        const p = permission(wanted);
        return this.afterMAC(await this.authenticate(token), p, now);
    }
    /** Like check, but answers instead of throwing for a refused token. */
    async verify(token, wanted, now) {
        const p = permission(wanted);
        let parsed;
        try {
            parsed = await this.authenticate(token);
        }
        catch (e) {
            if (e instanceof VerificationError)
                return { valid: false, reason: e.reason, claims: null };
            throw e;
        }
        try {
            return { valid: true, reason: null, claims: this.afterMAC(parsed, p, now) };
        }
        catch (e) {
            if (e instanceof VerificationError)
                return { valid: false, reason: e.reason, claims: parsed.claims };
            throw e;
        }
    }
}
/** Parses a `sigil-keyset-v1` export (text, UTF-8 bytes or an already parsed object). Errors
 *  name the field, never its value. Throws KeysetError. */
export function loadKeyset(data) {
    let wire = data;
    if (typeof data === "string" || data instanceof Uint8Array) {
        const size = typeof data === "string" ? ASCII.encode(data).length : data.length;
        if (size > KEYSET_MAX_BYTES)
            throw new KeysetError("keyset is larger than 1 MiB");
        try {
            wire = JSON.parse(typeof data === "string" ? data : new TextDecoder("utf-8", { fatal: true }).decode(data));
        }
        catch {
            throw new KeysetError("keyset is not JSON");
        }
    }
    if (wire === null || typeof wire !== "object" || Array.isArray(wire))
        throw new KeysetError("keyset is not a JSON object");
    const w = wire;
    if (w.format !== KEYSET_FORMAT)
        throw new KeysetError(`keyset format is not ${KEYSET_FORMAT}`);
    const audience = w.audience;
    if (typeof audience !== "string" || !isValidAudience(audience))
        throw new KeysetError("audience is not [A-Za-z0-9._:-]{1,64}");
    function entries(field, valueField) {
        const items = w[field];
        if (!Array.isArray(items))
            throw new KeysetError(`${field} is not a list`);
        const out = new Map();
        for (const item of items) {
            if (item === null || typeof item !== "object" || Array.isArray(item))
                throw new KeysetError(`${field} holds a non-object`);
            const { kid, [valueField]: value } = item;
            if (typeof kid !== "string" || !isValidKid(kid))
                throw new KeysetError(`${field}: key id is not [A-Za-z0-9_-]{1,32}`);
            if (typeof value !== "string")
                throw new KeysetError(`${field}: ${kid} has no ${valueField}`);
            const decoded = b64urlDecode(value);
            if (decoded === null)
                throw new KeysetError(`${field}: ${kid} is not canonical base64url`);
            if (decoded.length !== 32)
                throw new KeysetError(`${field}: ${kid} must be 32 bytes`);
            if (out.has(kid))
                throw new KeysetError(`${field}: key id ${kid} appears twice`);
            out.set(kid, decoded);
        }
        return out;
    }
    return Object.freeze({ audience, tokenKeys: entries("token_keys", "key"), revocationKeys: entries("revocation_keys", "public_key") });
}
// ---------------------------------------------------------------------------------------------
// Revocation lists (§4)
/** A parsed v1 list; lookups are a binary search over its own bytes (no per-entry objects). */
export class RevocationList {
    kid;
    sequence;
    issuedAt;
    nextUpdate;
    raw;
    verified;
    count;
    entriesAt;
    constructor(kid, sequence, issuedAt, 
    /** null: no next update promised. */
    nextUpdate, raw, 
    /** Whether the signature was checked. */
    verified, count, 
    /** Offset of the first entry in `raw`. */
    entriesAt) {
        this.kid = kid;
        this.sequence = sequence;
        this.issuedAt = issuedAt;
        this.nextUpdate = nextUpdate;
        this.raw = raw;
        this.verified = verified;
        this.count = count;
        this.entriesAt = entriesAt;
        Object.freeze(this);
    }
    /** (guid, status) pairs in list order (ascending GUIDs). */
    *entries() {
        for (let k = 0; k < this.count; k++) {
            const at = this.entriesAt + REVOCATION_ENTRY_SIZE * k;
            yield { guid: guidText(this.raw, at), status: this.raw[at + 16] === STATUS_REVOKED ? "revoked" : "deactivated" };
        }
    }
    /** "revoked", "deactivated" or null (not listed) for the 16 bytes of `guid` at `at`. */
    status(guid, at = 0) {
        const r = this.raw;
        let lo = 0;
        let hi = this.count;
        while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            const e = this.entriesAt + REVOCATION_ENTRY_SIZE * mid;
            let d = 0;
            for (let k = 0; k < 16 && d === 0; k++)
                d = r[e + k] - guid[at + k];
            if (d === 0)
                return r[e + 16] === STATUS_REVOKED ? "revoked" : "deactivated";
            if (d < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return null;
    }
    /** Past its next_update (a list without one is never stale). */
    isStale(now) {
        return this.nextUpdate !== null && BigInt(now) >= this.nextUpdate;
    }
}
/** The checks of §4.2 that need no key: too_large, malformed, unsupported_version, malformed. */
export function parseRevocationListUnsigned(data, maxBytes = REVOCATION_DEFAULT_MAX_BYTES) {
    const b = data;
    if (b.length > maxBytes)
        throw new RevocationListError("too_large", `${b.length} bytes, limit ${maxBytes}`);
    if (b.length < 6 || b[0] !== 0x53 || b[1] !== 0x47 || b[2] !== 0x4c || b[3] !== 0x52) {
        throw new RevocationListError("malformed", "missing the SGLR magic");
    }
    if (b[4] !== REVOCATION_VERSION)
        throw new RevocationListError("unsupported_version", `version ${b[4]}`);
    const n = b[5];
    let i = 6;
    if (!(n >= 1 && n <= 32 && b.length >= i + n))
        throw new RevocationListError("malformed", "bad key id length");
    if (!allIn(KID_BYTE, b, i, i + n))
        throw new RevocationListError("malformed", "bad key id");
    const kid = latin1(b, i, i + n);
    i += n;
    if (b.length < i + 28)
        throw new RevocationListError("malformed", "truncated header");
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const sequence = view.getBigUint64(i);
    const issuedAt = view.getBigInt64(i + 8);
    const nextUpdate = view.getBigInt64(i + 16);
    const count = view.getUint32(i + 24);
    i += 28;
    if (b.length !== i + count * REVOCATION_ENTRY_SIZE + REVOCATION_SIGNATURE_SIZE) {
        throw new RevocationListError("malformed", `length ${b.length} does not match ${count} entries`);
    }
    for (let k = 0; k < count; k++) {
        const at = i + REVOCATION_ENTRY_SIZE * k;
        const status = b[at + 16];
        if ((status !== STATUS_DEACTIVATED && status !== STATUS_REVOKED) || (k > 0 && compareBytes(b, at - 17, at - 1, b, at, at + 16) >= 0)) {
            throw new RevocationListError("malformed", "entries must be strictly ascending GUIDs with status 1 or 2");
        }
    }
    return new RevocationList(kid, sequence, issuedAt, nextUpdate === 0n ? null : nextUpdate, b, false, count, i);
}
/** Checks the Ed25519 signature of a list parsed by parseRevocationListUnsigned under `key`. */
async function signed(list, key) {
    const b = list.raw;
    const message = new Uint8Array(REVOCATION_CONTEXT.length + b.length - REVOCATION_SIGNATURE_SIZE);
    message.set(REVOCATION_CONTEXT);
    message.set(b.subarray(0, b.length - REVOCATION_SIGNATURE_SIZE), REVOCATION_CONTEXT.length);
    if (!(await ed25519Verify(key, message, b.subarray(b.length - REVOCATION_SIGNATURE_SIZE)))) {
        throw new RevocationListError("bad_signature", `key ${list.kid}`);
    }
    return new RevocationList(list.kid, list.sequence, list.issuedAt, list.nextUpdate, b, true, list.count, list.entriesAt);
}
/** Parses a v1 list and checks its Ed25519 signature (§4.2 order: too_large, malformed,
 *  unsupported_version, malformed, unknown_key, bad_signature). Throws RevocationListError. */
export async function parseRevocationList(data, publicKeys, maxBytes = REVOCATION_DEFAULT_MAX_BYTES) {
    const list = parseRevocationListUnsigned(data, maxBytes);
    const key = publicKeys.get(list.kid);
    if (key === undefined)
        throw new RevocationListError("unknown_key", `signed by key ${list.kid}`);
    return signed(list, key);
}
// ---------------------------------------------------------------------------------------------
// Revocation deltas (§4.3)
/** A parsed v1 delta: the changes that turn the signed list `baseSequence` into the signed list
 *  `sequence`. It carries the resulting list's signature and none of its own, so nothing in it is
 *  trusted until applyRevocationDelta rebuilt that list and verified it. */
export class RevocationDelta {
    kid;
    baseSequence;
    sequence;
    issuedAt;
    nextUpdate;
    count;
    raw;
    changeCount;
    changesAt;
    constructor(
    /** The resulting list's key id. */
    kid, 
    /** The sequence of the list the changes apply to. */
    baseSequence, 
    /** The resulting list's sequence, issued_at, next_update (null: none) and entry count. */
    sequence, issuedAt, nextUpdate, count, raw, changeCount, 
    /** Offset of the first change in `raw`. */
    changesAt) {
        this.kid = kid;
        this.baseSequence = baseSequence;
        this.sequence = sequence;
        this.issuedAt = issuedAt;
        this.nextUpdate = nextUpdate;
        this.count = count;
        this.raw = raw;
        this.changeCount = changeCount;
        this.changesAt = changesAt;
        Object.freeze(this);
    }
    /** (guid, status) pairs in GUID order; status null: the GUID leaves the list. */
    *changes() {
        for (let k = 0; k < this.changeCount; k++) {
            const at = this.changesAt + REVOCATION_ENTRY_SIZE * k;
            const wire = this.raw[at + 16];
            yield { guid: guidText(this.raw, at), status: wire === STATUS_REVOKED ? "revoked" : wire === STATUS_DEACTIVATED ? "deactivated" : null };
        }
    }
}
/** Whether `data` starts like a delta (`SGLD`) rather than a full list (`SGLR`). */
export function isRevocationDelta(data) {
    return data.length >= 4 && data[0] === 0x53 && data[1] === 0x47 && data[2] === 0x4c && data[3] === 0x44;
}
/** Rules 1–4 of §4.3 in order: too_large, malformed (magic), unsupported_version, malformed (key
 *  id, header, exact length, change statuses and order). Throws RevocationListError. */
export function parseRevocationDelta(data, maxBytes = REVOCATION_DEFAULT_MAX_BYTES) {
    const b = data;
    if (b.length > maxBytes)
        throw new RevocationListError("too_large", `${b.length} bytes, limit ${maxBytes}`);
    if (b.length < 6 || !isRevocationDelta(b))
        throw new RevocationListError("malformed", "missing the SGLD magic");
    if (b[4] !== DELTA_VERSION)
        throw new RevocationListError("unsupported_version", `delta version ${b[4]}`);
    const n = b[5];
    let i = 6;
    if (!(n >= 1 && n <= 32 && b.length >= i + n) || !allIn(KID_BYTE, b, i, i + n)) {
        throw new RevocationListError("malformed", "bad key id");
    }
    const kid = latin1(b, i, i + n);
    i += n;
    if (b.length < i + 40)
        throw new RevocationListError("malformed", "truncated delta header");
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const baseSequence = view.getBigUint64(i);
    const sequence = view.getBigUint64(i + 8);
    const issuedAt = view.getBigInt64(i + 16);
    const nextUpdate = view.getBigInt64(i + 24);
    const count = view.getUint32(i + 32);
    const changeCount = view.getUint32(i + 36);
    i += 40;
    if (b.length !== i + changeCount * REVOCATION_ENTRY_SIZE + REVOCATION_SIGNATURE_SIZE) {
        throw new RevocationListError("malformed", `length ${b.length} does not match ${changeCount} changes`);
    }
    for (let k = 0; k < changeCount; k++) {
        const at = i + REVOCATION_ENTRY_SIZE * k;
        if (b[at + 16] > STATUS_REVOKED)
            throw new RevocationListError("malformed", "a change's status must be 0, 1 or 2");
        if (k > 0 && compareBytes(b, at - 17, at - 1, b, at, at + 16) >= 0) {
            throw new RevocationListError("malformed", "changes must be strictly ascending GUIDs");
        }
    }
    return new RevocationDelta(kid, baseSequence, sequence, issuedAt, nextUpdate === 0n ? null : nextUpdate, count, b, changeCount, i);
}
/** Rules 5–7 of §4.3: applies `delta` to `base` (the list in force, verified) and returns the
 *  resulting list's bytes, parsed but not yet verified. delta_base_mismatch (no verified base, or
 *  its sequence is not baseSequence), too_large (the result is beyond maxBytes), malformed (a
 *  change that changes nothing, or the result does not hold `count` entries). */
export function rebuildRevocationList(delta, base, maxBytes = REVOCATION_DEFAULT_MAX_BYTES) {
    if (base === null || !base.verified) {
        throw new RevocationListError("delta_base_mismatch", `the delta applies to list ${delta.baseSequence}, and no list is in force`);
    }
    if (base.sequence !== delta.baseSequence) {
        throw new RevocationListError("delta_base_mismatch", `the delta applies to list ${delta.baseSequence}, the list in force is ${base.sequence}`);
    }
    const header = 34 + delta.kid.length;
    const size = header + REVOCATION_ENTRY_SIZE * delta.count + REVOCATION_SIGNATURE_SIZE;
    if (size > maxBytes) {
        throw new RevocationListError("too_large", `the resulting list of ${delta.count} entries exceeds ${maxBytes} bytes`);
    }
    const out = new Uint8Array(size);
    out.set([0x53, 0x47, 0x4c, 0x52, REVOCATION_VERSION, delta.kid.length]);
    out.set(delta.raw.subarray(6, 6 + delta.kid.length), 6);
    const view = new DataView(out.buffer);
    view.setBigUint64(6 + delta.kid.length, delta.sequence);
    view.setBigInt64(14 + delta.kid.length, delta.issuedAt);
    view.setBigInt64(22 + delta.kid.length, delta.nextUpdate ?? 0n);
    view.setUint32(30 + delta.kid.length, delta.count);
    const end = size - REVOCATION_SIGNATURE_SIZE;
    let w = header;
    const tooMany = () => new RevocationListError("malformed", `the changes leave more entries than the delta's ${delta.count}`);
    // One merge walk: each change finds its place by binary search from the last one, and the
    // entries between two changes are copied as one run.
    const e = base.raw;
    const from = base.entriesAt;
    const total = base.count;
    const d = delta.raw;
    let next = 0;
    for (let k = 0; k < delta.changeCount; k++) {
        const c = delta.changesAt + REVOCATION_ENTRY_SIZE * k;
        let lo = next;
        let hi = total;
        while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            const at = from + REVOCATION_ENTRY_SIZE * mid;
            if (compareBytes(e, at, at + 16, d, c, c + 16) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        const run = e.subarray(from + REVOCATION_ENTRY_SIZE * next, from + REVOCATION_ENTRY_SIZE * lo);
        if (w + run.length > end)
            throw tooMany();
        out.set(run, w);
        w += run.length;
        next = lo;
        const at = from + REVOCATION_ENTRY_SIZE * lo;
        const listed = lo < total && compareBytes(e, at, at + 16, d, c, c + 16) === 0;
        const current = listed ? e[at + 16] : 0;
        const wire = d[c + 16];
        if (current === wire) {
            throw new RevocationListError("malformed", wire === 0 ? "a change removes a GUID the base list does not hold" : "a change sets the status a GUID already has");
        }
        if (listed)
            next = lo + 1;
        if (wire !== 0) {
            if (w + REVOCATION_ENTRY_SIZE > end)
                throw tooMany();
            out.set(d.subarray(c, c + REVOCATION_ENTRY_SIZE), w);
            w += REVOCATION_ENTRY_SIZE;
        }
    }
    const rest = e.subarray(from + REVOCATION_ENTRY_SIZE * next, from + REVOCATION_ENTRY_SIZE * total);
    if (w + rest.length > end)
        throw tooMany();
    out.set(rest, w);
    w += rest.length;
    if (w !== end) {
        throw new RevocationListError("malformed", `the changes leave ${(w - header) / REVOCATION_ENTRY_SIZE} entries, the delta says ${delta.count}`);
    }
    out.set(d.subarray(d.length - REVOCATION_SIGNATURE_SIZE), end);
    return parseRevocationListUnsigned(out, maxBytes);
}
/** Rules 5–9 of §4.3: rebuildRevocationList, then the resulting list's key and signature
 *  (unknown_key, bad_signature). Rollback and equivocation are the store's checks, as for a full
 *  list. Throws RevocationListError; `base` is not changed. */
export async function applyRevocationDelta(delta, base, publicKeys, maxBytes = REVOCATION_DEFAULT_MAX_BYTES) {
    const list = rebuildRevocationList(delta, base, maxBytes);
    const key = publicKeys.get(list.kid);
    if (key === undefined)
        throw new RevocationListError("unknown_key", `signed by key ${list.kid}`);
    return signed(list, key);
}
function sameBytes(a, b) {
    if (a.length !== b.length)
        return false;
    for (let i = 0; i < a.length; i++)
        if (a[i] !== b[i])
            return false;
    return true;
}
/**
 * The list in force for a service, swapped atomically while verifiers read it.
 *
 * A list is parsed and its signature checked first; then, under the store's install lock (a
 * promise chain: one install step at a time), the rollback and equivocation checks and the
 * swap, with no await in between. A delta (§4.3) is parsed first and then, under the install
 * lock, applied to the list in force, its result verified, checked and swapped in, so the base
 * it was checked against is the list it replaces. A refused list or delta (forged, malformed,
 * older: rollback, same sequence with other bytes: equivocation, for another list:
 * delta_base_mismatch) changes nothing and the old list stays in force. Verifiers never wait.
 */
export class RevocationStore {
    publicKeys;
    stalePolicy;
    whenNoList;
    maxBytes;
    onEvent;
    list = null;
    imported = new Map();
    installs = Promise.resolve();
    constructor(publicKeys, options = {}) {
        const stale = options.stalePolicy ?? "keep_serving";
        const noList = options.whenNoList ?? "fail_open";
        if (stale !== "keep_serving" && stale !== "fail_closed")
            throw new RangeError("stalePolicy is keep_serving or fail_closed");
        if (noList !== "fail_open" && noList !== "fail_closed")
            throw new RangeError("whenNoList is fail_open or fail_closed");
        this.publicKeys = new Map(publicKeys);
        this.stalePolicy = stale;
        this.whenNoList = noList;
        this.maxBytes = options.maxBytes ?? REVOCATION_DEFAULT_MAX_BYTES;
        this.onEvent = options.onEvent ?? null;
    }
    /** The list in force, or null before the first one. */
    get current() {
        return this.list;
    }
    /** Verifies `data`, a full list or a delta (applied to the list in force, §4.3), and installs
     *  the list it makes if that is newer; returns the list in force. Throws RevocationListError
     *  (for a delta also delta_base_mismatch), and the old list then stays in force. */
    async load(data) {
        const outcome = await this.offer(data);
        if (outcome.error !== null)
            throw outcome.error;
        return this.list;
    }
    /** The checks of RevocationListUpdate, then the swap; never throws for a bad list. `data` may
     *  be a full list (`SGLR`) or a delta (`SGLD`), told apart by the magic. */
    async offer(data) {
        if (isRevocationDelta(data))
            return this.offerDelta(data);
        let candidate;
        try {
            candidate = await this.verify(parseRevocationListUnsigned(data, this.maxBytes));
        }
        catch (e) {
            if (e instanceof RevocationListError)
                return this.tell({ kind: "refused", sequence: null, error: e });
            throw e;
        }
        return this.tell(await this.exclusively(() => this.swap(candidate)));
    }
    async offerDelta(data) {
        let delta;
        try {
            delta = parseRevocationDelta(data, this.maxBytes);
        }
        catch (e) {
            if (e instanceof RevocationListError)
                return this.tell({ kind: "refused", sequence: null, error: e, delta: true });
            throw e;
        }
        const outcome = await this.exclusively(async () => {
            let candidate;
            try {
                candidate = await this.verify(rebuildRevocationList(delta, this.list, this.maxBytes));
            }
            catch (e) {
                if (e instanceof RevocationListError)
                    return { kind: "refused", sequence: delta.sequence, error: e };
                throw e;
            }
            return this.swap(candidate);
        });
        return this.tell({ ...outcome, delta: true });
    }
    /** unknown_key, bad_signature; the imported keys are kept. */
    async verify(unsigned) {
        const raw = this.publicKeys.get(unsigned.kid);
        if (raw === undefined)
            throw new RevocationListError("unknown_key", `signed by key ${unsigned.kid}`);
        let key = this.imported.get(unsigned.kid);
        if (key === undefined) {
            key = crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]).catch(() => null);
            this.imported.set(unsigned.kid, key);
        }
        const imported = await key;
        return signed(unsigned, imported ?? raw);
    }
    /** The install lock: runs `step` once every step queued before it has finished. */
    exclusively(step) {
        const run = this.installs.then(step);
        this.installs = run.catch(() => undefined);
        return run;
    }
    /** Refuses a rollback or an equivocation, or installs `candidate`: one step, no await. */
    swap(candidate) {
        const cur = this.list;
        if (cur !== null && candidate.sequence < cur.sequence) {
            const error = new RevocationListError("rollback", `sequence ${candidate.sequence} < ${cur.sequence} in force`);
            return { kind: "refused", sequence: candidate.sequence, error };
        }
        if (cur !== null && candidate.sequence === cur.sequence) {
            return sameBytes(candidate.raw, cur.raw)
                ? { kind: "unchanged", sequence: candidate.sequence, error: null }
                : { kind: "refused", sequence: candidate.sequence, error: new RevocationListError("equivocation", `sequence ${candidate.sequence}`) };
        }
        this.list = candidate;
        return { kind: "installed", sequence: candidate.sequence, error: null };
    }
    /** Reports an outcome decided outside `offer` (a file that cannot be read: `io`). */
    tell(outcome) {
        if (this.onEvent !== null)
            this.onEvent(outcome);
        return outcome;
    }
    /** Whether the list in force is past its next_update (false before the first list). */
    isStale(now = Math.floor(Date.now() / 1000)) {
        return this.list !== null && this.list.isStale(now);
    }
    check(guid, at, now) {
        const cur = this.list;
        if (cur === null)
            return this.whenNoList === "fail_closed" ? "stale" : null;
        if (this.stalePolicy === "fail_closed" && cur.isStale(now))
            return "stale";
        return cur.status(guid, at);
    }
}
// ---------------------------------------------------------------------------------------------
// HTTP: reading `Authorization: Bearer` and answering as SigilHummingbird does
//
// | case                                           | status | WWW-Authenticate                                               |
// | no Bearer credentials                          | 401    | `Bearer`                                                       |
// | two Authorization headers, or not one b64token | 400    | `Bearer error="invalid_request"`                               |
// | a token that fails verification                | 401    | `Bearer error="invalid_token", error_description="<reason>"`   |
// | a valid token without the permission           | 403    | `Bearer error="insufficient_scope", scope="<resource.action>"` |
// | revocation list stale, policy fails closed     | 503    | none                                                           |
//
// Everything put in a header or body is a reason code or a permission name, never anything the
// client sent: the token is never logged or echoed.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** RFC 6750 §2.1, read as SigilVerifier's BearerCredentials does: exactly one header, the scheme
 *  in any case, one or more spaces, then one b64token and nothing else. */
export function readCredentials(values) {
    if (values.length > 1)
        return { kind: "repeated" };
    if (values.length === 0)
        return { kind: "absent" };
    const value = values[0];
    const space = value.indexOf(" ");
    const scheme = space < 0 ? value : value.slice(0, space);
    if (scheme.length !== 6 || scheme.toLowerCase() !== "bearer")
        return { kind: "absent" };
    if (space < 0)
        return { kind: "malformed" };
    let i = space;
    while (value.charCodeAt(i) === 0x20)
        i++;
    const token = value.slice(i);
    if (!B64TOKEN.test(token))
        return { kind: "malformed" };
    return { kind: "bearer", token };
}
/** A refusal: status, WWW-Authenticate (or null) and a JSON body. */
export class Challenge {
    status;
    wwwAuthenticate;
    body;
    constructor(status, wwwAuthenticate, body) {
        this.status = status;
        this.wwwAuthenticate = wwwAuthenticate;
        this.body = body;
        Object.freeze(this);
    }
    /** The response headers, Content-Length included. */
    headers() {
        const out = [
            ["Content-Type", "application/json; charset=utf-8"],
            ["Cache-Control", "no-store"],
            ["Content-Length", String(this.body.length)],
        ];
        if (this.wwwAuthenticate !== null)
            out.unshift(["WWW-Authenticate", this.wwwAuthenticate]);
        return out;
    }
    static forRefusal(error, p) {
        const code = error.reason;
        if (code === "scope_not_granted") {
            const scope = p?.name ?? "";
            return new Challenge(403, `Bearer error="insufficient_scope", scope="${scope}"`, `{"error":"insufficient_scope","reason":"${code}","scope":"${scope}"}`);
        }
        if (code === "revocations_stale") {
            // The service's list is too old and its policy fails closed: not the client's fault.
            return new Challenge(503, null, `{"error":"temporarily_unavailable","reason":"${code}"}`);
        }
        return new Challenge(401, `Bearer error="invalid_token", error_description="${code}"`, `{"error":"invalid_token","reason":"${code}"}`);
    }
}
export const MISSING_TOKEN = new Challenge(401, "Bearer", '{"error":"missing_token"}');
export const REPEATED_CREDENTIALS = new Challenge(400, 'Bearer error="invalid_request"', '{"error":"invalid_request","reason":"multiple_authorization_headers"}');
export const MALFORMED_CREDENTIALS = new Challenge(400, 'Bearer error="invalid_request"', '{"error":"invalid_request","reason":"malformed_authorization"}');
const quiet = () => undefined;
/** The whole middleware decision for one request: the token's claims, or the answer to give. */
export async function authorize(verifier, authorization, p = null, log = quiet) {
    const creds = readCredentials(authorization);
    if (creds.kind === "absent")
        return MISSING_TOKEN;
    if (creds.kind === "repeated") {
        log("info", "refused: more than one Authorization header");
        return REPEATED_CREDENTIALS;
    }
    if (creds.kind === "malformed") {
        log("info", "refused: Bearer credentials that are not one b64token");
        return MALFORMED_CREDENTIALS;
    }
    try {
        return await verifier.check(creds.token, p);
    }
    catch (e) {
        if (!(e instanceof VerificationError))
            throw e;
        log("info", `refused token: reason=${e.reason}${p ? ` permission=${p.name}` : ""}`);
        return Challenge.forRefusal(e, p);
    }
}
const TOKENS = new WeakMap();
/** The claims the middleware or guard attached to an accepted request (Node or fetch). */
export function sigilToken(request) {
    return TOKENS.get(request) ?? null;
}
function authorizationValues(req) {
    if (req.rawHeaders !== undefined) {
        // Node keeps only the first of repeated Authorization headers in `headers`: count them here.
        const out = [];
        for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
            if (req.rawHeaders[i].length === 13 && req.rawHeaders[i].toLowerCase() === "authorization")
                out.push(req.rawHeaders[i + 1]);
        }
        return out;
    }
    const v = req.headers.authorization;
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
/**
 * A Node / Express / Connect `(req, res, next)` middleware: lets a request through only if it
 * carries a Sigil token that verifies and, when `permission` is given, grants it. The claims are
 * then `sigilToken(req)` (and `req.sigilToken`).
 *
 * ```ts
 * app.use(sigilMiddleware(verifier, { permission: new Permission("devices.list", "read") }));
 * ```
 */
export function sigilMiddleware(verifier, options = {}) {
    const p = permission(options.permission);
    const log = options.log ?? quiet;
    return (req, res, next) => {
        authorize(verifier, authorizationValues(req), p, log).then((result) => {
            if (result instanceof Challenge) {
                res.statusCode = result.status;
                for (const [k, v] of result.headers())
                    res.setHeader(k, v);
                res.end(result.body);
                return;
            }
            TOKENS.set(req, result);
            req.sigilToken = result;
            next();
        }, (error) => next(error));
    };
}
/**
 * A fetch-style guard (Deno.serve, Bun.serve, Workers, Hono): null lets the request through
 * (claims in `sigilToken(request)`), a Response is the refusal to return as is.
 *
 * ```ts
 * const guard = sigilGuard(verifier, { permission: { name: "devices.list", access: "read" } });
 * Deno.serve(async (request) => (await guard(request)) ?? handle(request));
 * ```
 *
 * Headers join repeated Authorization values with a comma, which is not a b64token: two
 * Authorization headers are then 400 `malformed_authorization` (same status and error).
 */
export function sigilGuard(verifier, options = {}) {
    const p = permission(options.permission);
    const log = options.log ?? quiet;
    return async (request) => {
        const value = request.headers.get("authorization");
        const result = await authorize(verifier, value === null ? [] : [value], p, log);
        if (result instanceof Challenge)
            return new Response(result.body, { status: result.status, headers: result.headers() });
        TOKENS.set(request, result);
        return null;
    };
}
function sleep(ms, signal) {
    return new Promise((resolve) => {
        if (signal.aborted)
            return resolve();
        const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
        };
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done);
    });
}
function hostOf(url) {
    try {
        return new URL(url).hostname;
    }
    catch {
        return "?";
    }
}
/**
 * Long-polls sigil-server's `GET /v1/revocations` (`?wait=` with `If-None-Match`) and offers every
 * list to `store`, whose checks are RevocationListUpdate's: a refused list changes nothing and
 * the ETag is not moved. While a list is in force it asks with `?since=<its sequence>`, so the
 * server may answer a delta (§4.3), which the store applies to the list in force; after a refused
 * delta (delta_base_mismatch or any other reason) the next request leaves `since` out, so the
 * whole list comes and the list in force is current again. Reads are bounded in size (the store's maxBytes, checked against
 * Content-Length and again while the body arrives) and in time (wait + slack per request);
 * failures back off from 1 s, doubling to 30 s. Logs carry sequences, reason codes and the
 * server's host only. Uses the global `fetch`, so it runs wherever the core does.
 *
 * ```ts
 * const follower = new RevocationFollower("https://issuer.example/v1/revocations", store).start();
 * // ... follower.stop();
 * ```
 */
export class RevocationFollower {
    store;
    url;
    wait;
    slack;
    minBackoff;
    maxBackoff;
    etag = null;
    log;
    fetcher;
    stopper = new AbortController();
    running = null;
    /** A delta was refused: ask without `since` until a poll succeeds. */
    wholeNext = false;
    constructor(url, store, options = {}) {
        this.store = store;
        const scheme = new URL(url).protocol;
        if (scheme !== "http:" && scheme !== "https:")
            throw new RangeError("the revocations URL must be http or https");
        this.url = url;
        this.wait = Math.min(Math.max(Math.floor(options.wait ?? 30), 1), 60);
        this.slack = options.slack ?? 15;
        this.minBackoff = options.minBackoff ?? 1;
        this.maxBackoff = options.maxBackoff ?? 30;
        this.log = options.log ?? ((level, message) => (level === "info" ? undefined : console.warn(`sigil: ${message}`)));
        this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
    }
    /** Starts following in the background (once); returns this. */
    start() {
        if (this.running === null) {
            if (this.stopper.signal.aborted)
                this.stopper = new AbortController();
            this.running = this.run();
        }
        return this;
    }
    /** Stops following and cuts a long poll in flight short; resolves when the loop has ended. */
    async stop() {
        this.stopper.abort();
        const running = this.running;
        this.running = null;
        if (running !== null)
            await running;
    }
    get stopped() {
        return this.stopper.signal.aborted;
    }
    /** One request: "current" (a list or a delta installed, or the same list again), "not_modified"
     *  or "failed: ..." ("failed: refused", "failed: refused delta", "failed: HTTP 500", …). */
    async pollOnce() {
        const { status, data, etag } = await this.request();
        if (status === 304) {
            this.wholeNext = false;
            return "not_modified";
        }
        if (status !== 200 || data === null)
            return status === 0 ? "failed: no list" : `failed: HTTP ${status}`;
        const outcome = await this.store.offer(data);
        if (outcome.kind === "installed") {
            this.log("info", `revocations installed${outcome.delta ? " from a delta" : ""}: sequence=${outcome.sequence}`);
        }
        if (outcome.kind !== "refused") {
            this.etag = etag;
            this.wholeNext = false;
            return "current";
        }
        const error = outcome.error;
        if (outcome.delta) {
            this.wholeNext = true;
            this.log("error", `revocation delta refused (the list in force stays; the whole list is asked for next): reason=${error.reason} ${error.detail}`);
            return "failed: refused delta";
        }
        this.refused(error);
        return "failed: refused";
    }
    refused(error) {
        this.log("error", `revocations refused (the list in force stays): reason=${error.reason} ${error.detail}`);
    }
    async request() {
        const url = new URL(this.url);
        const inForce = this.store.current;
        if (inForce !== null && !this.wholeNext)
            url.searchParams.set("since", String(inForce.sequence));
        url.searchParams.set("wait", String(this.wait));
        const headers = { Accept: `${REVOCATIONS_MEDIA_TYPE}, ${REVOCATION_DELTA_MEDIA_TYPE}` };
        if (this.etag !== null)
            headers["If-None-Match"] = this.etag;
        const limit = this.store.maxBytes;
        const controller = new AbortController();
        const cut = () => controller.abort();
        this.stopper.signal.addEventListener("abort", cut);
        // The timer also bounds the body: aborting the request errors a read in progress.
        const timer = setTimeout(cut, (this.wait + this.slack) * 1000);
        try {
            // Redirects are followed (a CDN in front): the list is signed and no credential is sent.
            const resp = await this.fetcher(url.href, { headers, signal: controller.signal, redirect: "follow" });
            if (resp.status !== 200 || resp.body === null) {
                await resp.body?.cancel().catch(() => undefined);
                return { status: resp.status === 200 ? 0 : resp.status, data: null, etag: null };
            }
            const declared = resp.headers.get("content-length");
            if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
                this.refused(new RevocationListError("too_large", `the server declares ${declared} bytes, limit ${limit}`));
                controller.abort();
                return { status: 0, data: null, etag: null };
            }
            const reader = resp.body.getReader();
            const chunks = [];
            let total = 0;
            for (;;) {
                const { done, value } = await reader.read();
                if (done)
                    break;
                total += value.length;
                if (total > limit) {
                    this.refused(new RevocationListError("too_large", `the body goes past ${limit} bytes`));
                    controller.abort();
                    return { status: 0, data: null, etag: null };
                }
                chunks.push(value);
            }
            const data = new Uint8Array(total);
            let at = 0;
            for (const c of chunks) {
                data.set(c, at);
                at += c.length;
            }
            return { status: 200, data, etag: resp.headers.get("etag") };
        }
        catch (e) {
            if (!this.stopped)
                this.log("warn", `revocations fetch failed: host=${hostOf(this.url)} error=${e?.name ?? "Error"}`);
            return { status: 0, data: null, etag: null };
        }
        finally {
            clearTimeout(timer);
            this.stopper.signal.removeEventListener("abort", cut);
        }
    }
    async run() {
        const host = hostOf(this.url);
        this.log("info", `following revocations: host=${host} wait=${this.wait}`);
        let backoff = this.minBackoff;
        const signal = this.stopper.signal;
        while (!signal.aborted) {
            const started = Date.now();
            const result = await this.pollOnce();
            if (signal.aborted)
                return;
            if (result === "not_modified" || result === "current") {
                backoff = this.minBackoff;
                // A server that answers at once (no long poll) is asked at most once a second.
                const pause = 1000 - (Date.now() - started);
                if (pause > 0)
                    await sleep(pause, signal);
            }
            else {
                this.log("warn", `revocations: ${result}; retrying in ${backoff.toFixed(1)} s (host=${host})`);
                await sleep(backoff * 1000, signal);
                backoff = Math.min(backoff * 2, this.maxBackoff);
            }
        }
    }
}

#!/usr/bin/env bash
# Keeps the target graph `sigil → SigilIssuer → SigilIssuerCrypto → SigilVerifier → COpenSSL`
# honest. Fails if any rule below is broken:
# - The verifier is what services link: it may import only COpenSSL (in its one wrapper file),
#   Synchronization, Glibc/Darwin and FoundationEssentials.
# - The verifier's wrapper holds no issuer-only crypto (HKDF, Ed25519 signing, RAND_bytes):
#   that lives in SigilIssuerCrypto, which the verifier does not link.
# - In SigilIssuerCrypto only OpenSSL/IssuerOpenSSL.swift imports COpenSSL.
# - SigilIssuer and the CLI never import COpenSSL; they reach OpenSSL through the two wrappers.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
import_pattern='^[[:space:]]*(@[_a-zA-Z]+[[:space:]]+)*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]'

# Prints "file<TAB>module" for every import in the Swift files under $1.
imports() {
    grep -rHE --include='*.swift' "$import_pattern" "$1" | while IFS= read -r line; do
        printf '%s\t%s\n' "${line%%:*}" "$(echo "${line#*:}" | sed -E 's/^[[:space:]]*(@[_a-zA-Z]+[[:space:]]+)*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]+(class |struct |enum |func )?([A-Za-z_]+).*/\5/')"
    done
}

# 1. The verifier.
verifier_wrapper=Sources/SigilVerifier/OpenSSL/OpenSSLMAC.swift
while IFS=$'\t' read -r file module; do
    case "$module" in
        Synchronization|Glibc|Darwin|FoundationEssentials) ;;
        COpenSSL)
            if [[ "$file" != "$verifier_wrapper" ]]; then
                echo "check-imports: $file imports COpenSSL; only OpenSSL/OpenSSLMAC.swift may"; status=1
            fi ;;
        *) echo "check-imports: $file imports $module; the verifier may not"; status=1 ;;
    esac
done < <(imports Sources/SigilVerifier)

# 2. No issuer-only crypto in the verifier's wrapper: the C functions, the shim helpers that
# call them, and the Swift names that used to wrap them. (OPENSSL_cleanse stays: KeyedHMAC
# wipes its key copy with it.)
issuer_only='EVP_KDF|RAND_bytes|EVP_DigestSign\b|EVP_DigestSignInit|EVP_PKEY_new_raw_private_key|EVP_PKEY_get_raw_public_key|sigil_hkdf_sha256|sigil_ed25519_sign|sigil_ed25519_public|func[[:space:]]+(hkdfSHA256|randomBytes|ed25519Sign|ed25519PublicKey)\b'
if found=$(grep -nE "$issuer_only" "$verifier_wrapper"); then
    echo "check-imports: $verifier_wrapper holds issuer-only crypto; move it to SigilIssuerCrypto:"
    echo "$found" | sed 's/^/    /'
    status=1
fi

# 3. SigilIssuerCrypto: COpenSSL in its one wrapper file only.
while IFS=$'\t' read -r file module; do
    if [[ "$module" == COpenSSL && "$file" != Sources/SigilIssuerCrypto/OpenSSL/IssuerOpenSSL.swift ]]; then
        echo "check-imports: $file imports COpenSSL; only OpenSSL/IssuerOpenSSL.swift may"; status=1
    fi
done < <(imports Sources/SigilIssuerCrypto)

# 4. SQLite is the issuer's alone, behind one wrapper file.
while IFS= read -r file; do
    if [[ "$file" != "Sources/SigilIssuer/Store/SQLite.swift" ]]; then
        echo "check-imports: $file imports CSQLite; only SigilIssuer/Store/SQLite.swift may"; status=1
    fi
done < <(grep -rlE '^[[:space:]]*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]+CSQLite' Sources)

# 4b. libpq likewise, behind its one wrapper file.
while IFS= read -r file; do
    if [[ "$file" != "Sources/SigilIssuer/Store/Postgres.swift" ]]; then
        echo "check-imports: $file imports CPostgres; only SigilIssuer/Store/Postgres.swift may"; status=1
    fi
done < <(grep -rlE '^[[:space:]]*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]+CPostgres' Sources Server/Sources Tests)

# 5. The issuer and the CLI never import COpenSSL.
while IFS=$'\t' read -r file module; do
    if [[ "$module" == COpenSSL ]]; then
        echo "check-imports: $file imports COpenSSL; use OpenSSL's package API instead"; status=1
    fi
done < <(imports Sources/SigilIssuer; imports Sources/sigil)

if [[ $status -eq 0 ]]; then
    echo "check-imports: Sources/SigilVerifier imports only COpenSSL, Synchronization, Glibc, FoundationEssentials"
    echo "check-imports: no issuer-only crypto in $verifier_wrapper"
    echo "check-imports: COpenSSL only in the two OpenSSL wrappers; SigilIssuer and sigil never import it"
    echo "check-imports: CSQLite only in SigilIssuer/Store/SQLite.swift"
    echo "check-imports: CPostgres only in SigilIssuer/Store/Postgres.swift"
fi
exit $status

"""Ed25519 (RFC 8032, pure) verification without writing any of it by hand.

Python's standard library has no Ed25519, so this module uses, in order of preference:

1. the `cryptography` package, when it is installed;
2. the system's OpenSSL libcrypto (1.1.1 or later) through `ctypes`: the same library
   Python's own `ssl` module is linked against, so nothing needs to be installed.

`SIGIL_ED25519_BACKEND=cryptography|libcrypto` forces one of them (the tests run both).
`SIGIL_LIBCRYPTO=/path/to/libcrypto.so` names the library when it cannot be found.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from typing import Callable, List, Optional, Tuple

__all__ = ["BACKENDS", "Ed25519Unavailable", "backend_name", "sign", "verify", "public_key"]

_EVP_PKEY_ED25519 = 1087  # NID_ED25519


class Ed25519Unavailable(RuntimeError):
    """Neither `cryptography` nor a usable libcrypto was found."""


# ---------------------------------------------------------------------------------------------
# libcrypto through ctypes


def _libcrypto_candidates() -> List[str]:
    named = os.environ.get("SIGIL_LIBCRYPTO")
    if named:
        return [named]
    out: List[str] = []
    # The copy the ssl module already loaded (Linux): the same version, no second copy.
    try:
        import ssl  # noqa: F401  (loads libcrypto into the process)

        with open("/proc/self/maps", "r", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").split(" ")[-1]
                if "libcrypto" in os.path.basename(path) and path not in out:
                    out.append(path)
    except OSError:
        pass
    if sys.platform == "darwin":
        # macOS aborts a process that loads its unversioned /usr/lib/libcrypto.dylib; only a
        # library named explicitly (SIGIL_LIBCRYPTO) or found above is safe there.
        return out
    found = ctypes.util.find_library("crypto")
    for name in ([found] if found else []) + ["libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"]:
        if name not in out:
            out.append(name)
    return out


class _LibCrypto:
    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        vp, sz, c_int = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int
        self.new_public = lib.EVP_PKEY_new_raw_public_key
        self.new_public.argtypes = [c_int, vp, ctypes.c_char_p, sz]
        self.new_public.restype = vp
        self.new_private = lib.EVP_PKEY_new_raw_private_key
        self.new_private.argtypes = [c_int, vp, ctypes.c_char_p, sz]
        self.new_private.restype = vp
        self.get_public = lib.EVP_PKEY_get_raw_public_key
        self.get_public.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(sz)]
        self.get_public.restype = c_int
        self.pkey_free = lib.EVP_PKEY_free
        self.pkey_free.argtypes = [vp]
        self.pkey_free.restype = None
        self.ctx_new = lib.EVP_MD_CTX_new
        self.ctx_new.argtypes = []
        self.ctx_new.restype = vp
        self.ctx_free = lib.EVP_MD_CTX_free
        self.ctx_free.argtypes = [vp]
        self.ctx_free.restype = None
        self.verify_init = lib.EVP_DigestVerifyInit
        self.verify_init.argtypes = [vp, vp, vp, vp, vp]
        self.verify_init.restype = c_int
        self.verify_ = lib.EVP_DigestVerify
        self.verify_.argtypes = [vp, ctypes.c_char_p, sz, ctypes.c_char_p, sz]
        self.verify_.restype = c_int
        self.sign_init = lib.EVP_DigestSignInit
        self.sign_init.argtypes = [vp, vp, vp, vp, vp]
        self.sign_init.restype = c_int
        self.sign_ = lib.EVP_DigestSign
        self.sign_.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(sz), ctypes.c_char_p, sz]
        self.sign_.restype = c_int
        # A failed verification leaves entries in OpenSSL's per-thread error queue, which the
        # ssl module would later report as its own error: clear it after every call.
        self.clear_errors = lib.ERR_clear_error
        self.clear_errors.argtypes = []
        self.clear_errors.restype = None

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if len(public_key) != 32 or len(signature) != 64:
            return False
        pkey = self.new_public(_EVP_PKEY_ED25519, None, public_key, 32)
        if not pkey:
            self.clear_errors()
            return False
        ctx = self.ctx_new()
        try:
            if not ctx or self.verify_init(ctx, None, None, None, pkey) != 1:
                raise Ed25519Unavailable("EVP_DigestVerifyInit failed")
            return bool(self.verify_(ctx, signature, 64, message, len(message)) == 1)
        finally:
            if ctx:
                self.ctx_free(ctx)
            self.pkey_free(pkey)
            self.clear_errors()

    def _private(self, seed: bytes) -> int:
        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        pkey = self.new_private(_EVP_PKEY_ED25519, None, seed, 32)
        if not pkey:
            self.clear_errors()
            raise Ed25519Unavailable("EVP_PKEY_new_raw_private_key failed")
        return int(pkey)

    def sign(self, seed: bytes, message: bytes) -> bytes:
        pkey = self._private(seed)
        ctx = self.ctx_new()
        try:
            if not ctx or self.sign_init(ctx, None, None, None, pkey) != 1:
                raise Ed25519Unavailable("EVP_DigestSignInit failed")
            out = ctypes.create_string_buffer(64)
            n = ctypes.c_size_t(64)
            if self.sign_(ctx, out, ctypes.byref(n), message, len(message)) != 1 or n.value != 64:
                raise Ed25519Unavailable("EVP_DigestSign failed")
            return out.raw
        finally:
            if ctx:
                self.ctx_free(ctx)
            self.pkey_free(pkey)
            self.clear_errors()

    def public_key(self, seed: bytes) -> bytes:
        pkey = self._private(seed)
        try:
            out = ctypes.create_string_buffer(32)
            n = ctypes.c_size_t(32)
            if self.get_public(pkey, out, ctypes.byref(n)) != 1 or n.value != 32:
                raise Ed25519Unavailable("EVP_PKEY_get_raw_public_key failed")
            return out.raw
        finally:
            self.pkey_free(pkey)
            self.clear_errors()


_lib_lock = threading.Lock()
_lib: Optional[_LibCrypto] = None
_lib_error: Optional[str] = None


def _libcrypto() -> _LibCrypto:
    global _lib, _lib_error
    with _lib_lock:
        if _lib is not None:
            return _lib
        if _lib_error is not None:
            raise Ed25519Unavailable(_lib_error)
        tried: List[str] = []
        for name in _libcrypto_candidates():
            try:
                _lib = _LibCrypto(ctypes.CDLL(name))
                return _lib
            except (OSError, AttributeError) as e:
                tried.append(f"{name}: {e}")
        _lib_error = "no libcrypto with Ed25519 (OpenSSL >= 1.1.1) found; install 'cryptography' " + (
            "or set SIGIL_LIBCRYPTO" if not tried else f"(tried {'; '.join(tried)})"
        )
        raise Ed25519Unavailable(_lib_error)


# ---------------------------------------------------------------------------------------------
# The `cryptography` package


def _crypto_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def _crypto_sign(seed: bytes, message: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def _crypto_public(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _has_cryptography() -> bool:
    try:
        import cryptography.hazmat.primitives.asymmetric.ed25519  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Backend choice

_Backend = Tuple[
    Callable[[bytes, bytes, bytes], bool], Callable[[bytes, bytes], bytes], Callable[[bytes], bytes]
]


def _backend_named(name: str) -> _Backend:
    if name == "cryptography":
        if not _has_cryptography():
            raise Ed25519Unavailable("the 'cryptography' package is not installed")
        return _crypto_verify, _crypto_sign, _crypto_public
    if name == "libcrypto":
        lib = _libcrypto()
        return lib.verify, lib.sign, lib.public_key
    raise ValueError(f"unknown Ed25519 backend {name!r} (cryptography or libcrypto)")


#: The backend names, in order of preference.
BACKENDS = ("cryptography", "libcrypto")


def backend_name(preferred: Optional[str] = None) -> str:
    """The backend in use: `preferred`, else `SIGIL_ED25519_BACKEND`, else the first available.

    Raises Ed25519Unavailable when none is usable.
    """
    wanted = preferred or os.environ.get("SIGIL_ED25519_BACKEND") or None
    if wanted:
        _backend_named(wanted)
        return wanted
    if _has_cryptography():
        return "cryptography"
    _libcrypto()
    return "libcrypto"


def verify(public_key: bytes, message: bytes, signature: bytes, backend: Optional[str] = None) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` under `public_key`."""
    return _backend_named(backend_name(backend))[0](bytes(public_key), bytes(message), bytes(signature))


def sign(seed: bytes, message: bytes, backend: Optional[str] = None) -> bytes:
    """Signs with a 32-byte seed (for tests and examples: services never sign lists)."""
    return _backend_named(backend_name(backend))[1](bytes(seed), bytes(message))


def public_key(seed: bytes, backend: Optional[str] = None) -> bytes:
    """The 32-byte public key of a 32-byte seed."""
    return _backend_named(backend_name(backend))[2](bytes(seed))

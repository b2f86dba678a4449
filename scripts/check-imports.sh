#!/usr/bin/env bash
# The verifier is what services link: it may import only COpenSSL (in its one wrapper file),
# Synchronization, Glibc/Darwin and FoundationEssentials. Fails if anything else creeps in.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r line; do
    file=${line%%:*}
    module=$(echo "${line#*:}" | sed -E 's/^[[:space:]]*(@[_a-zA-Z]+[[:space:]]+)*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]+(class |struct |enum |func )?([A-Za-z_]+).*/\5/')
    case "$module" in
        Synchronization|Glibc|Darwin|FoundationEssentials) ;;
        COpenSSL)
            if [[ "$file" != "Sources/SigilVerifier/OpenSSL/OpenSSLMAC.swift" ]]; then
                echo "check-imports: $file imports COpenSSL; only OpenSSL/OpenSSLMAC.swift may"; status=1
            fi ;;
        *) echo "check-imports: $file imports $module; the verifier may not"; status=1 ;;
    esac
done < <(grep -rHE '^[[:space:]]*(@[_a-zA-Z]+[[:space:]]+)*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]' Sources/SigilVerifier)
# SQLite is the issuer's alone, behind one wrapper file.
while IFS= read -r file; do
    if [[ "$file" != "Sources/SigilIssuer/Store/SQLite.swift" ]]; then
        echo "check-imports: $file imports CSQLite; only SigilIssuer/Store/SQLite.swift may"; status=1
    fi
done < <(grep -rlE '^[[:space:]]*((public|package|internal|private|fileprivate)[[:space:]]+)?import[[:space:]]+CSQLite' Sources)
[[ $status -eq 0 ]] && echo "check-imports: Sources/SigilVerifier imports only COpenSSL, Synchronization, Glibc, FoundationEssentials"
exit $status

package dev.sigil.verify;

import java.nio.charset.StandardCharsets;

/**
 * What a request needs: a {@code resource.action} name and an access mode (docs/FORMAT.md §3).
 *
 * <pre>{@code
 * static final Permission LIST_DEVICES = Permission.read("devices.list");
 * }</pre>
 */
public final class Permission {
    /** Whether the permission reads or writes; a read-only token grants reads only. */
    public enum Access {
        READ,
        WRITE
    }

    private final String name;
    private final Access access;
    final byte[] nameBytes;

    private Permission(String name, Access access) {
        this.name = name;
        this.access = access;
        this.nameBytes = name.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * @throws IllegalArgumentException if {@code name} is not a valid {@code resource.action}
     *     (a programming error in the service, not a token outcome)
     */
    public static Permission of(String name, Access access) {
        if (name == null || !Names.isPair(name)) {
            throw new IllegalArgumentException("permission is not resource.action with parts [a-z][a-z0-9_-]{0,31}");
        }
        if (access == null) throw new IllegalArgumentException("access is required");
        return new Permission(name, access);
    }

    /** {@code Permission.of(name, Access.READ)}. */
    public static Permission read(String name) {
        return of(name, Access.READ);
    }

    /** {@code Permission.of(name, Access.WRITE)}. */
    public static Permission write(String name) {
        return of(name, Access.WRITE);
    }

    public String name() {
        return name;
    }

    public Access access() {
        return access;
    }

    @Override
    public String toString() {
        return name + " (" + access.name().toLowerCase(java.util.Locale.ROOT) + ")";
    }
}

import SigilVerifier

/// The permissions the devices routes declare. They match the `devices` resource in the
/// example catalog that `sigil init` writes, so `sigil issue --scope devices.list` grants
/// ``listDevices``.
extension Permission {
    /// `GET /devices`.
    static let listDevices = route("devices.list", .read)
    /// `GET /devices/:id`.
    static let getDevice = route("devices.get", .read)
    /// `DELETE /devices/:id`.
    static let deleteDevice = route("devices.delete", .write)

    /// A permission written in source; an invalid literal is a programmer error.
    private static func route(_ pair: String, _ access: Access) -> Permission {
        guard let permission = Permission(pair, access: access) else {
            preconditionFailure("\(pair) is not a valid resource.action pair")
        }
        return permission
    }
}

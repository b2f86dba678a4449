import SigilVerifier

/// The permissions the devices routes declare. They match the `devices` resource in the
/// example catalog that `sigil init` writes, so `sigil issue --scope devices.list` grants
/// ``listDevices``.
extension Permission {
    /// `GET /devices`.
    static let listDevices = Permission(literal: "devices.list", access: .read)
    /// `GET /devices/:id`.
    static let getDevice = Permission(literal: "devices.get", access: .read)
    /// `DELETE /devices/:id`.
    static let deleteDevice = Permission(literal: "devices.delete", access: .write)
}

import Hummingbird
import Synchronization

/// A device the service manages; its JSON is the response body of the device routes.
struct Device: ResponseEncodable, Sendable, Hashable {
    let id: String
    let name: String
}

/// The service's devices, in memory: this example is about the token check, not storage.
///
/// Safe to use from any request; a `Mutex` guards the dictionary.
final class DeviceStore: Sendable {
    private let devices: Mutex<[String: Device]>

    init(_ devices: [Device]) {
        self.devices = Mutex(Dictionary(devices.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first }))
    }

    /// A few devices to start with.
    static func example() -> DeviceStore {
        DeviceStore([
            Device(id: "dev-1", name: "Front door sensor"),
            Device(id: "dev-2", name: "Boiler thermostat"),
            Device(id: "dev-3", name: "Garage camera"),
        ])
    }

    /// Every device, sorted by ID.
    var all: [Device] { devices.withLock { Array($0.values) }.sorted { $0.id < $1.id } }

    /// The device with this ID, if any.
    func device(id: String) -> Device? { devices.withLock { $0[id] } }

    /// Removes the device with this ID. Returns false if there was none.
    func remove(id: String) -> Bool { devices.withLock { $0.removeValue(forKey: id) != nil } }
}

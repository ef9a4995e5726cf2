import Dispatch
import Foundation
import Synchronization
import Training

/// SIGINT and SIGTERM as a request to stop cleanly. After the first signal the run in progress
/// stops at its next batch boundary and is recorded as `interrupted`, a tuning trial is given
/// back to its study, and the command exits with 128 + the signal's number; a second signal
/// exits at once.
///
/// NOTE: a signal sent to a whole process group reaches a worker twice, from the sender and
/// forwarded by its parent; signals within a second of the first are taken as the same request.
public enum Interrupts {
    private static let state = Mutex<(signal: Int32, at: ContinuousClock.Instant)?>(nil)
    private static let sources = Mutex<[any DispatchSourceSignal]>([])
    /// Worker or run processes the first signal is forwarded to.
    private static let children = Mutex<[pid_t]>([])

    /// Handles SIGINT and SIGTERM from now on (once per process).
    public static func install() {
        sources.withLock { sources in
            guard sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { received(number) }
                source.resume()
                sources.append(source)
            }
        }
    }

    static func received(_ number: Int32) {
        let now = ContinuousClock.now
        let first = state.withLock { state -> Bool? in
            guard let earlier = state else {
                state = (number, now)
                return true
            }
            return now - earlier.at < .seconds(1) ? nil : false
        }
        switch first {
        case true?:
            let message = "\nbpfree: \(name(of: number)) received: stopping at the next batch boundary (send it again to exit at once)\n"
            FileHandle.standardError.write(Data(message.utf8))
            for child in children.withLock({ $0 }) { kill(child, number) }
        case false?:
            FileHandle.standardError.write(Data("\nbpfree: \(name(of: number)) again: exiting now\n".utf8))
            for child in children.withLock({ $0 }) { kill(child, number) }
            _exit(128 + number)
        case nil:
            break
        }
    }

    /// The signal that asked this process to stop, if one did.
    public static var requested: Int32? { state.withLock { $0?.signal } }

    /// Why a run stops, when a signal asked it to.
    public static var reason: String? { requested.map { "interrupted by \(name(of: $0))" } }

    /// Throws `Interrupted` once a signal asked the process to stop.
    public static func check() throws {
        if let signal = requested { throw Interrupted(signal: signal) }
    }

    /// Runs `body` (waiting for worker or run processes) with a signal to this process forwarded
    /// to them, at once if one has arrived already.
    public static func forwarding<T>(to workers: [pid_t], _ body: () throws -> T) rethrows -> T {
        children.withLock { $0 = workers }
        defer { children.withLock { $0 = [] } }
        if let signal = requested { for child in workers { kill(child, signal) } }
        return try body()
    }

    static func name(of number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(number)"
        }
    }
}

/// The command stopped because a signal asked it to; its work so far is in the store.
public struct Interrupted: Error, CustomStringConvertible {
    public let signal: Int32
    /// Whether the same command again carries on where this one stopped (a study or a bench
    /// does; a single training run starts again from its first epoch).
    public let resumable: Bool

    public init(signal: Int32, resumable: Bool = true) {
        self.signal = signal
        self.resumable = resumable
    }

    /// 128 + the signal's number, as a shell reports a process the signal ended.
    public var exitStatus: Int32 { 128 + signal }

    public var description: String {
        "interrupted by \(Interrupts.name(of: signal)); "
            + (resumable ? "what finished is in the store: run the same command again to resume"
                         : "the run is recorded as interrupted with the epochs it finished; the same command again starts a new run from epoch 1")
    }
}

/// Stops a run at the next batch boundary once a signal asked the process to stop.
final class InterruptObserver: TrainingObserver {
    func interruptReason() -> String? { Interrupts.reason }
}

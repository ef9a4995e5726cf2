import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for download tests: serves fixed bodies, honours Range
/// requests, and can answer with an error status or cut the connection mid-body.
public final class LocalHTTPServer: @unchecked Sendable {
    /// How a path is answered.
    public enum Behaviour: Sendable {
        case serve([UInt8])
        /// Serve the body but close the connection after `bytes` bytes, the first `times` times.
        case cutAfter(bytes: Int, times: Int, body: [UInt8])
        case status(Int)
    }

    public private(set) var port: UInt16 = 0
    private let socketDescriptor: Int32
    private var routes: [String: Behaviour]
    private let lock = NSLock()
    /// Range headers received, in order (for tests of resumption).
    public private(set) var rangeRequests: [String] = []

    public init(routes: [String: Behaviour]) throws {
        self.routes = routes
        socketDescriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(socketDescriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socketDescriptor, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketDescriptor, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// The base URL, ending in "/".
    public var baseURL: String { "http://127.0.0.1:\(port)/" }

    public func stop() {
        shutdown(socketDescriptor, Int32(SHUT_RDWR))
        close(socketDescriptor)
    }

    private func acceptLoop() {
        while true {
            let client = accept(socketDescriptor, nil, nil)
            if client < 0 { return }
            handle(client)
            close(client)
        }
    }

    private func handle(_ client: Int32) {
        var request = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !request.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = read(client, &chunk, chunk.count)
            if n <= 0 { return }
            request += chunk[0..<n]
        }
        let text = String(decoding: request, as: UTF8.self)
        let lines = text.split(separator: "\r\n")
        let path = lines.first?.split(separator: " ").dropFirst().first.map { String($0.dropFirst()) } ?? ""
        let range = lines.first { $0.lowercased().hasPrefix("range:") }
            .flatMap { Int($0.split(separator: "=").last?.split(separator: "-").first ?? "") } ?? 0
        lock.lock()
        if range > 0 { rangeRequests.append("\(path) bytes=\(range)-") }
        let behaviour = routes[path]
        if case .cutAfter(let bytes, let times, let body) = behaviour, times > 1 {
            routes[path] = .cutAfter(bytes: bytes, times: times - 1, body: body)
        } else if case .cutAfter(_, _, let body) = behaviour {
            routes[path] = .serve(body)
        }
        lock.unlock()
        func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, bytes.count) } }
        switch behaviour {
        case .none:
            send(Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        case .status(let code):
            send(Array("HTTP/1.1 \(code) Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        case .serve(let body), .cutAfter(_, _, let body):
            let slice = Array(body[min(range, body.count)...])
            let status = range > 0 ? "206 Partial Content" : "200 OK"
            send(Array("HTTP/1.1 \(status)\r\nContent-Length: \(slice.count)\r\nConnection: close\r\n\r\n".utf8))
            if case .cutAfter(let bytes, _, _) = behaviour {
                send(Array(slice.prefix(bytes)))
            } else {
                send(slice)
            }
        }
    }
}

import Dispatch
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads dataset files over HTTP(S): resumes an interrupted transfer from its `.part` file
/// (Range requests), tries the mirrors in order, verifies the publisher's checksum and only then
/// moves the file into place, so a good copy is never replaced by a bad one.
public final class Downloader: @unchecked Sendable {
    /// Called with (file name, bytes so far, total bytes if known).
    public typealias ProgressHandler = (String, Int64, Int64?) -> Void

    let progress: ProgressHandler
    /// Attempts per mirror when an attempt made progress before failing (a cut connection).
    let resumeAttempts: Int

    public init(resumeAttempts: Int = 3, progress: @escaping ProgressHandler = { _, _, _ in }) {
        self.progress = progress
        self.resumeAttempts = resumeAttempts
    }

    /// Fetches every file of `catalog` into `folder` (created if needed); files that already
    /// verify are kept. Returns the status of each file afterwards.
    @discardableResult
    public func fetch(_ catalog: DatasetFiles, into folder: String, mirrors: [String]? = nil) throws -> [String] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var report: [String] = []
        for (file, status) in try catalog.verify(folder: folder) {
            if DatasetFiles.isVerified(status) {
                report.append("\(file.name): already present and verified")
                continue
            }
            try fetch(file, into: folder, mirrors: mirrors ?? catalog.mirrors)
            report.append("\(file.name): downloaded and verified")
        }
        return report
    }

    /// Downloads one file through the mirrors until one gives the published bytes.
    public func fetch(_ file: DatasetFiles.File, into folder: String, mirrors: [String]) throws {
        let destination = folder + "/" + file.name
        let part = destination + ".part"
        var problems: [String] = []
        for mirror in mirrors {
            guard let url = URL(string: mirror + file.name) else { continue }
            var attempt = 0
            while true {
                attempt += 1
                let before = Self.size(of: part)
                do {
                    try download(url, to: part, name: file.name)
                } catch let error as DatasetError {
                    // Resume from where the cut left off if this attempt made progress.
                    if Self.size(of: part) > before, attempt < resumeAttempts { continue }
                    problems.append(error.description)
                    break
                }
                let actual = try DatasetFiles.md5(ofFile: part)
                guard actual == file.md5 else {
                    try? FileManager.default.removeItem(atPath: part)
                    problems.append("\(url): checksum mismatch (MD5 \(actual), published \(file.md5))")
                    break
                }
                // Verified: move into place atomically (rename within the folder).
                if rename(part, destination) != 0 {
                    throw DatasetError(path: destination, problem: "cannot move the verified download into place (errno \(errno))")
                }
                return
            }
        }
        throw DatasetError(path: destination, problem: "no mirror gave the published file: " + problems.joined(separator: "; "))
    }

    /// The size of a file in bytes (0 when it is missing).
    public static func size(of path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// One HTTP transfer appended to `part` (resuming from its current size).
    func download(_ url: URL, to part: String, name: String) throws {
        if !FileManager.default.fileExists(atPath: part) {
            FileManager.default.createFile(atPath: part, contents: nil)
        }
        guard let handle = FileHandle(forUpdatingAtPath: part) else {
            throw DatasetError(path: part, problem: "cannot be opened for writing")
        }
        defer { try? handle.close() }
        let offset = Int64(handle.seekToEndOfFile())
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 60)
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        let transfer = Transfer(handle: handle, offset: offset, name: name, progress: progress)
        let session = URLSession(configuration: .ephemeral, delegate: transfer, delegateQueue: nil)
        session.dataTask(with: request).resume()
        transfer.done.wait()
        session.finishTasksAndInvalidate()
        if let status = transfer.status, !(status == 200 || status == 206 || status == 416) {
            throw DatasetError(path: url.absoluteString, problem: "HTTP \(status)")
        }
        if let error = transfer.error {
            throw DatasetError(path: url.absoluteString, problem: "transfer failed after \(transfer.received) bytes (\(error.localizedDescription))")
        }
        if let expected = transfer.expected, transfer.received < expected {
            throw DatasetError(path: url.absoluteString, problem: "connection closed after \(transfer.received) of \(expected) bytes")
        }
    }

    /// Streams one response into the part file.
    final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let handle: FileHandle
        var offset: Int64
        let name: String
        let progress: ProgressHandler
        let done = DispatchSemaphore(value: 0)
        var status: Int?
        var error: Error?
        var received: Int64 = 0
        var expected: Int64?

        init(handle: FileHandle, offset: Int64, name: String, progress: @escaping ProgressHandler) {
            self.handle = handle
            self.offset = offset
            self.name = name
            self.progress = progress
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            self.status = status
            if status == 200, offset > 0 {
                // The server ignored the Range request: start the file over.
                handle.truncateFile(atOffset: 0)
                offset = 0
            }
            if response.expectedContentLength >= 0 { expected = response.expectedContentLength }
            completionHandler(status == 200 || status == 206 ? .allow : .cancel)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            handle.write(data)
            received += Int64(data.count)
            progress(name, offset + received, expected.map { $0 + offset })
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            if let status, status != 200 && status != 206 { self.error = nil } else { self.error = error }
            done.signal()
        }
    }
}

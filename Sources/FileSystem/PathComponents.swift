/// Path arithmetic on plain strings, without Foundation's `NSString` path methods: on Linux,
/// `deletingLastPathComponent` traps (SIGILL) on a one-character relative path such as `s`.
public enum PathComponents {
    /// The folder holding `path`: `.` for a bare name, `/` for a file at the root; trailing
    /// slashes are ignored (`a/b/` is in `a`).
    public static func folder(of path: String) -> String {
        var path = Substring(path)
        while path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        guard let slash = path.lastIndex(of: "/") else { return "." }
        var folder = path[..<slash]
        while folder.count > 1, folder.hasSuffix("/") { folder = folder.dropLast() }
        return folder.isEmpty ? "/" : String(folder)
    }
}

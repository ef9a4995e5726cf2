import Foundation

/// A table rendered both as HTML and as Markdown.
public struct Table {
    public var title: String
    public var header: [String]
    public var rows: [[String]]
    /// A line under the table (e.g. the reproduction commands).
    public var notes: [String] = []

    var html: String {
        var out = "<table><caption>\(SVG.escape(title))</caption><thead><tr>"
        out += header.map { "<th>\(SVG.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for row in rows { out += "<tr>" + row.map { "<td>\(SVG.escape($0))</td>" }.joined() + "</tr>" }
        out += "</tbody></table>"
        for note in notes { out += "<p class=\"note\"><code>\(SVG.escape(note))</code></p>" }
        return out
    }

    var markdown: String {
        let cell = { (text: String) in Self.markdownEscape(text).replacingOccurrences(of: "|", with: "\\|") }
        var lines = ["### \(Self.markdownEscape(title))", "", "| " + header.map(cell).joined(separator: " | ") + " |",
                     "|" + String(repeating: "---|", count: header.count)]
        lines += rows.map { "| " + $0.map(cell).joined(separator: " | ") + " |" }
        // Notes are indented code blocks (shown literally); a line break must stay inside the block.
        if !notes.isEmpty { lines += [""] + notes.map { "    " + $0.replacingOccurrences(of: "\n", with: "\n    ") } }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text as Markdown shows it literally: HTML's special characters as entities, line breaks as `<br>`.
    static func markdownEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\r\n", with: "<br>")
            .replacingOccurrences(of: "\n", with: "<br>")
    }
}

import Foundation

/// Colour-blind-safe colours (Okabe & Ito), one per series in order.
public enum Palette {
    public static let colors = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"]
    public static func color(_ index: Int) -> String { colors[index % colors.count] }
}

/// An x–y chart drawn as standalone SVG: lines or markers with optional error bars, axes with
/// units and ticks, a legend, and dashed vertical markers (stage boundaries).
public struct LineChart {
    public struct Series {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        /// Half-widths of error bars, per point (nil: none).
        public var xErrors: [Double]?
        public var yErrors: [Double]?
        /// Markers only (a scatter) instead of a line.
        public var markersOnly: Bool
        /// A dashed line (e.g. a second seed in the colour of its arm).
        public var dashed: Bool
        /// A line with a marker at every point.
        public var withMarkers = false

        public init(name: String, color: String, points: [(x: Double, y: Double)], xErrors: [Double]? = nil,
                    yErrors: [Double]? = nil, markersOnly: Bool = false, dashed: Bool = false) {
            self.dashed = dashed
            self.name = name
            self.color = color
            self.points = points
            self.xErrors = xErrors
            self.yErrors = yErrors
            self.markersOnly = markersOnly
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Vertical dashed lines at these x values, with a label.
    public var markers: [(x: Double, label: String)] = []
    public var width = 640.0
    public var height = 360.0
    /// Where error bars stop going down or left (e.g. 0 for quantities that cannot be
    /// negative): a bar is drawn from max(v − e, floor) to v + e; nil: symmetric bars.
    public var errorFloor: Double?

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    /// The chart as an `<svg>` element (every coordinate finite; non-finite points are left out).
    public var svg: String {
        let finite = series.flatMap { s in s.points.enumerated().filter { $0.element.x.isFinite && $0.element.y.isFinite }.map { (s, $0.offset, $0.element) } }
        func low(_ v: Double, _ e: Double) -> Double { errorFloor.map { max(v - e, min($0, v)) } ?? v - e }
        var xs = finite.flatMap { s, i, p in [low(p.x, s.xErrors?[i] ?? 0), p.x + (s.xErrors?[i] ?? 0)] } + markers.map(\.x)
        var ys = finite.flatMap { s, i, p in [low(p.y, s.yErrors?[i] ?? 0), p.y + (s.yErrors?[i] ?? 0)] }
        xs = xs.filter(\.isFinite)
        ys = ys.filter(\.isFinite)
        let xTicks = SVG.ticks(xs.min() ?? 0, xs.max() ?? 1), yTicks = SVG.ticks(ys.min() ?? 0, ys.max() ?? 1)
        let (left, right, top, bottom) = (64.0, 16.0, 36.0, 52.0)
        let legendHeight = Double((series.count + 2) / 3) * 18 + 4
        let plotBottom = height - bottom - legendHeight
        let (x0, x1, y0, y1) = (xTicks.first!, xTicks.last!, yTicks.first!, yTicks.last!)
        func px(_ x: Double) -> Double { left + (x - x0) / max(x1 - x0, 1e-300) * (width - left - right) }
        func py(_ y: Double) -> Double { plotBottom - (y - y0) / max(y1 - y0, 1e-300) * (plotBottom - top) }
        var out = SVG.open(width: width, height: height, title: title)
        out += SVG.axes(left: left, right: width - right, top: top, bottom: plotBottom, xTicks: xTicks.map { ($0, px($0)) },
                        yTicks: yTicks.map { ($0, py($0)) }, xLabel: xLabel, yLabel: yLabel, height: height - legendHeight)
        for marker in markers {
            let x = px(marker.x)
            out += #"<line class="marker" x1="\#(SVG.f(x))" y1="\#(SVG.f(top))" x2="\#(SVG.f(x))" y2="\#(SVG.f(plotBottom))" stroke="rgb(153,153,153)" stroke-dasharray="4 3"/>"#
            out += #"<text x="\#(SVG.f(x + 3))" y="\#(SVG.f(top + 10))" font-size="10" fill="rgb(102,102,102)">\#(SVG.escape(marker.label))</text>"#
        }
        for s in series {
            let points = s.points.enumerated().filter { $0.element.x.isFinite && $0.element.y.isFinite }
            out += #"<g class="series" data-name="\#(SVG.escape(s.name))">"#
            if !s.markersOnly, points.count > 1 {
                let d = points.enumerated().map { k, e in "\(k == 0 ? "M" : "L")\(SVG.f(px(e.element.x))),\(SVG.f(py(e.element.y)))" }.joined(separator: " ")
                out += #"<path d="\#(d)" fill="none" stroke="\#(s.color)" stroke-width="1.8"\#(s.dashed ? #" stroke-dasharray="6 3""# : "")/>"#
            }
            for (i, p) in points {
                let (cx, cy) = (px(p.x), py(p.y))
                if let e = s.yErrors?[i], e.isFinite, e > 0 {
                    out += #"<path d="M\#(SVG.f(cx)),\#(SVG.f(py(low(p.y, e)))) L\#(SVG.f(cx)),\#(SVG.f(py(p.y + e)))" stroke="\#(s.color)"/>"#
                }
                if let e = s.xErrors?[i], e.isFinite, e > 0 {
                    out += #"<path d="M\#(SVG.f(px(low(p.x, e)))),\#(SVG.f(cy)) L\#(SVG.f(px(p.x + e))),\#(SVG.f(cy))" stroke="\#(s.color)"/>"#
                }
                if s.markersOnly || s.withMarkers || points.count == 1 {
                    out += #"<circle cx="\#(SVG.f(cx))" cy="\#(SVG.f(cy))" r="4" fill="\#(s.color)"><title>\#(SVG.escape(s.name))</title></circle>"#
                }
            }
            out += "</g>"
        }
        out += SVG.legend(series.map { ($0.name, $0.color) }, top: plotBottom + bottom + 6, left: left, width: width - left - right)
        return out + "</svg>"
    }
}

/// Bars with error bars, one per labelled value.
public struct BarChart {
    public var title: String
    public var yLabel: String
    public var bars: [(label: String, value: Double, error: Double?, color: String)]
    public var width = 420.0
    public var height = 300.0

    public init(title: String, yLabel: String, bars: [(label: String, value: Double, error: Double?, color: String)]) {
        self.title = title
        self.yLabel = yLabel
        self.bars = bars
    }

    public var svg: String {
        let values = bars.flatMap { [$0.value + ($0.error ?? 0), 0] }.filter(\.isFinite)
        let yTicks = SVG.ticks(0, max(values.max() ?? 1, 1e-12))
        let (left, right, top, bottom) = (64.0, 12.0, 36.0, 56.0)
        let plotBottom = height - bottom
        func py(_ y: Double) -> Double { plotBottom - y / max(yTicks.last!, 1e-300) * (plotBottom - top) }
        let slot = (width - left - right) / Double(max(bars.count, 1))
        var out = SVG.open(width: width, height: height, title: title)
        out += SVG.axes(left: left, right: width - right, top: top, bottom: plotBottom, xTicks: [],
                        yTicks: yTicks.map { ($0, py($0)) }, xLabel: "", yLabel: yLabel, height: height)
        for (i, bar) in bars.enumerated() where bar.value.isFinite {
            let x = left + slot * Double(i) + slot * 0.2, w = slot * 0.6
            out += #"<g class="series" data-name="\#(SVG.escape(bar.label))">"#
            out += #"<rect x="\#(SVG.f(x))" y="\#(SVG.f(py(bar.value)))" width="\#(SVG.f(w))" height="\#(SVG.f(max(plotBottom - py(bar.value), 0)))" fill="\#(bar.color)"><title>\#(SVG.escape(bar.label)): \#(SVG.number(bar.value))</title></rect>"#
            if let e = bar.error, e.isFinite, e > 0 {
                let cx = x + w / 2
                out += #"<path d="M\#(SVG.f(cx)),\#(SVG.f(py(max(bar.value - e, 0)))) L\#(SVG.f(cx)),\#(SVG.f(py(bar.value + e))) M\#(SVG.f(cx - 5)),\#(SVG.f(py(bar.value + e))) L\#(SVG.f(cx + 5)),\#(SVG.f(py(bar.value + e)))" stroke="rgb(51,51,51)"/>"#
            }
            out += #"<text x="\#(SVG.f(x + w / 2))" y="\#(SVG.f(plotBottom + 16))" font-size="11" text-anchor="middle">\#(SVG.escape(bar.label))</text></g>"#
        }
        return out + "</svg>"
    }
}

/// SVG building blocks.
enum SVG {
    static func open(width: Double, height: Double, title: String) -> String {
        #"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \#(f(width)) \#(f(height))" width="\#(f(width))" height="\#(f(height))" font-family="sans-serif" role="img"><title>\#(escape(title))</title>"#
            + #"<text x="\#(f(width / 2))" y="20" font-size="14" text-anchor="middle" font-weight="bold">\#(escape(title))</text>"#
    }

    static func axes(left: Double, right: Double, top: Double, bottom: Double, xTicks: [(Double, Double)], yTicks: [(Double, Double)],
                     xLabel: String, yLabel: String, height: Double) -> String {
        var out = #"<g class="axes" font-size="11" fill="rgb(51,51,51)">"#
        out += #"<path d="M\#(f(left)),\#(f(top)) L\#(f(left)),\#(f(bottom)) L\#(f(right)),\#(f(bottom))" fill="none" stroke="rgb(51,51,51)"/>"#
        for (value, y) in yTicks {
            out += #"<path d="M\#(f(left - 4)),\#(f(y)) L\#(f(right)),\#(f(y))" stroke="rgb(229,229,229)"/>"#
            out += #"<text x="\#(f(left - 6))" y="\#(f(y + 4))" text-anchor="end">\#(number(value))</text>"#
        }
        for (value, x) in xTicks {
            out += #"<path d="M\#(f(x)),\#(f(bottom)) L\#(f(x)),\#(f(bottom + 4))" stroke="rgb(51,51,51)"/>"#
            out += #"<text x="\#(f(x))" y="\#(f(bottom + 16))" text-anchor="middle">\#(number(value))</text>"#
        }
        if !xLabel.isEmpty {
            out += #"<text x="\#(f((left + right) / 2))" y="\#(f(bottom + 34))" text-anchor="middle">\#(escape(xLabel))</text>"#
        }
        out += #"<text transform="translate(16,\#(f((top + bottom) / 2))) rotate(-90)" text-anchor="middle">\#(escape(yLabel))</text>"#
        return out + "</g>"
    }

    static func legend(_ entries: [(String, String)], top: Double, left: Double, width: Double) -> String {
        var out = #"<g class="legend" font-size="11">"#
        let column = width / 3
        for (i, (name, color)) in entries.enumerated() {
            let x = left + column * Double(i % 3), y = top + 18 * Double(i / 3)
            out += #"<rect x="\#(f(x))" y="\#(f(y - 9))" width="12" height="10" fill="\#(color)"/><text x="\#(f(x + 16))" y="\#(f(y))">\#(escape(name))</text>"#
        }
        return out + "</g>"
    }

    /// About five round tick values covering [low, high].
    static func ticks(_ low: Double, _ high: Double) -> [Double] {
        var (lo, hi) = (low, high)
        if !(hi > lo) { (lo, hi) = (lo - 0.5 * max(abs(lo), 1), hi + 0.5 * max(abs(hi), 1)) }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        let start = floor(lo / step) * step
        var ticks: [Double] = []
        var t = start
        while t < hi + step * 0.999 && ticks.count < 12 { ticks.append(t); t += step }
        if ticks.count < 2 { ticks.append(start + step) }
        return ticks
    }

    /// A coordinate with two decimals.
    static func f(_ x: Double) -> String { String(format: "%.2f", x.isFinite ? x : 0) }

    /// A tick or value label: compact, with SI-style exponents for large or small magnitudes.
    static func number(_ x: Double) -> String {
        let a = abs(x)
        if a == 0 { return "0" }
        if a >= 1e5 || a < 1e-3 { return String(format: "%.2g", x) }
        if a >= 100 { return String(format: "%.0f", x) }
        if a >= 1 { return String(format: "%.3g", x) }
        return String(format: "%.3g", x)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// Grid carbon intensities (g CO2e per kWh) and the CO2e of an energy.
public struct CarbonIntensity: Sendable, Equatable {
    /// Grams of CO2e per kWh.
    public let gramsPerKWh: Double
    /// Where the value comes from, e.g. "country:FRA", "world-average", "given".
    public let source: String

    /// The world average CodeCarbon uses when a country is unknown (IEA 2019).
    public static let worldAverage = CarbonIntensity(gramsPerKWh: 475, source: "world-average")

    /// Country intensities by ISO 3166-1 alpha-3 code: CodeCarbon's `global_energy_mix.json`
    /// (year 2023) for the countries energy.md lists, and the energy-mix figures of that table
    /// for further large grids.
    public static let countries: [String: Double] = [
        "USA": 369.473, "FRA": 56.039, "DEU": 380.95, "CHN": 582.317, "IND": 713.441,
        "GBR": 237.589, "JPN": 485.392,
    ]

    /// A given intensity.
    public init(gramsPerKWh: Double, source: String) {
        self.gramsPerKWh = gramsPerKWh
        self.source = source
    }

    /// The intensity of a country (ISO3, case-insensitive); nil when it is not in the table.
    public static func country(_ code: String) -> CarbonIntensity? {
        let key = code.uppercased()
        return countries[key].map { CarbonIntensity(gramsPerKWh: $0, source: "country:\(key)") }
    }

    /// Grams of CO2e for `joules` (kWh = J / 3.6e6).
    public func grams(forJoules joules: Double) -> Double {
        joules / 3_600_000 * gramsPerKWh
    }
}

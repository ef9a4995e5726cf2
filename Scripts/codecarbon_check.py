"""Reads a bpfree emissions.csv with CodeCarbon's own code (3.0.1, the version the study ran, or
a current one: 3.3.x).

    python codecarbon_check.py --file emissions.csv

Checks the header with CodeCarbon's FileOutput.has_valid_headers, appends a row the way an
EmissionsTracker does (FileOutput.out: a file whose header it does not accept is renamed to a
backup first), builds carbonboard's app on the file and runs what its callbacks compute (where
the version still ships carbonboard: 3.0.x), then prints what it saw as JSON.
"""
import argparse
import dataclasses
import glob
import json
import os

import codecarbon
import pandas as pd
from codecarbon.output_methods.emissions_data import EmissionsData
from codecarbon.output_methods.file import FileOutput
try:
    from codecarbon.viz.carbonboard import render_app
    from codecarbon.viz.data import Data
except (ImportError, SystemExit):  # 3.3 ships carbonboard as an extra that exits when missing
    render_app = Data = None

parser = argparse.ArgumentParser()
parser.add_argument("--file", required=True)
args = parser.parse_args()
folder, name = os.path.split(os.path.abspath(args.file))
before = sorted(os.listdir(folder))

row = {f.name: None for f in dataclasses.fields(EmissionsData)}
row.update(timestamp="2026-12-02T12:00:00", project_name="codecarbon", run_id="0", experiment_id="x", duration=1.0,
           emissions=1e-6, emissions_rate=1e-6, cpu_power=10.0, gpu_power=0.0, ram_power=1.0, cpu_energy=1e-6,
           gpu_energy=0.0, ram_energy=1e-7, energy_consumed=1.1e-6, country_name="France", country_iso_code="FRA",
           region="", cloud_provider="", cloud_region="", os="Linux", python_version="3", codecarbon_version=codecarbon.__version__,
           cpu_count=2, cpu_model="cpu", gpu_count=0, gpu_model="", longitude=0.0, latitude=0.0, ram_total_size=1.0,
           tracking_mode="machine")
data = EmissionsData(**row)
output = FileOutput(name, folder, on_csv_write="append")
valid = output.has_valid_headers(data)
output.out(data, data)
after = sorted(os.listdir(folder))

df = pd.read_csv(args.file)
viz = {}
if Data is not None:
    render_app(df)
    data_viz = Data()
    project = data_viz.get_project_data(df, "bpfree")
    summary = data_viz.get_project_summary(project.data)
    viz = {"bpfree_rows_viz": len(project.data), "summary_country": summary["country_name"],
           "choropleth_countries": len(data_viz.get_global_emissions_choropleth_data(summary["total"]["energy_consumed"]))}
print(json.dumps({
    "codecarbon": codecarbon.__version__,
    "valid_headers": valid,
    "files_before": before,
    "files_after": after,
    "rows": len(df),
    "projects": sorted(df.project_name.unique().tolist()),
    "columns": list(df.columns),
    "bpfree_rows": int((df.project_name == "bpfree").sum()),
    "tracking_modes": df[df.project_name == "bpfree"].tracking_mode.tolist(),
    "energy_consumed": df[df.project_name == "bpfree"].energy_consumed.tolist(),
    "emissions": df[df.project_name == "bpfree"].emissions.tolist(),
    **viz,
}))

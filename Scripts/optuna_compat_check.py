#!/usr/bin/env python3
"""Checks a bpfree store with Optuna and optuna-dashboard themselves (a test tool, never used by
bpfree): `optuna.load_study` reads the study with every trial's state, parameters,
distributions, value and intermediate values, `trials_dataframe()` works, and the dashboard's
HTTP API lists the study and its trials. Prints one JSON object with what it read; exits 1 with
the reason on the first mismatch.

  python Scripts/optuna_compat_check.py --storage sqlite:///bpfree.sqlite --study NAME --trials 8 [--directions maximize,minimize]

A multi-objective study (several directions) must also give a non-empty `best_trials` (the
Pareto front), and the dashboard must list it with every direction.

Needs optuna 4.x, optuna-dashboard and pandas (the test installs them into a virtual environment).
"""
import argparse, json, math, socket, sys, threading, time, urllib.request

import optuna
import optuna_dashboard

p = argparse.ArgumentParser()
p.add_argument("--storage", required=True)
p.add_argument("--study", required=True)
p.add_argument("--trials", type=int, required=True)
p.add_argument("--directions", default="maximize")
a = p.parse_args()
directions = a.directions.split(",")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def fail(reason):
    print(json.dumps({"error": reason}))
    sys.exit(1)


study = optuna.load_study(study_name=a.study, storage=a.storage)
trials = study.get_trials(deepcopy=False)
if len(trials) != a.trials:
    fail(f"{len(trials)} trials, expected {a.trials}")
if [t.number for t in trials] != list(range(len(trials))):
    fail(f"trial numbers {[t.number for t in trials]} are not 0..{len(trials) - 1}")
if [d.name.lower() for d in study.directions] != directions:
    fail(f"directions {study.directions}, expected {directions}")
for t in trials:
    if t.state == optuna.trial.TrialState.COMPLETE and (t.values is None or len(t.values) != len(directions)
                                                         or not all(math.isfinite(v) for v in t.values)):
        fail(f"complete trial {t.number} has values {t.values}")
    if t.state == optuna.trial.TrialState.FAIL and t.values is not None:
        fail(f"failed trial {t.number} has values {t.values}")
best_trials = [t.number for t in study.best_trials]
if not best_trials:
    fail("best_trials is empty")
    if set(t.params) != set(t.distributions) or not t.params:
        fail(f"trial {t.number}: params {t.params} vs distributions {t.distributions}")
    for name, value in t.params.items():
        if not t.distributions[name]._contains(t.distributions[name].to_internal_repr(value)):
            fail(f"trial {t.number}: {name}={value} outside {t.distributions[name]}")
frame = study.trials_dataframe()
if len(frame) != a.trials:
    fail(f"trials_dataframe has {len(frame)} rows")

# The dashboard, on a free port, through its HTTP API.
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
storage = optuna.storages.RDBStorage(a.storage)
threading.Thread(target=lambda: optuna_dashboard.run_server(storage, host="127.0.0.1", port=port), daemon=True).start()
summaries = None
for _ in range(100):
    try:
        summaries = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies"))["study_summaries"]
        break
    except OSError:
        time.sleep(0.1)
if summaries is None:
    fail("the dashboard did not answer")
listed = [s for s in summaries if s["study_name"] == a.study]
if not listed:
    fail(f"the dashboard does not list {a.study}: {[s['study_name'] for s in summaries]}")
if [d.lower() for d in listed[0]["directions"]] != directions:
    fail(f"the dashboard lists directions {listed[0]['directions']}, expected {directions}")
detail = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{listed[0]['study_id']}?after=0"))
if len(detail["trials"]) != a.trials:
    fail(f"the dashboard shows {len(detail['trials'])} trials")

print(json.dumps({
    "optuna": optuna.__version__,
    "trials": len(trials),
    "states": sorted({t.state.name for t in trials}),
    "params": sorted({name for t in trials for name in t.params}),
    "distributions": sorted({type(d).__name__ for t in trials for d in t.distributions.values()}),
    "values": [t.value for t in trials] if len(directions) == 1 else [t.values for t in trials],
    "directions": [d.name.lower() for d in study.directions],
    "metric_names": study.metric_names,
    "best_trials": best_trials,
    "intermediate_steps": [sorted(t.intermediate_values) for t in trials],
    "user_attrs": sorted({key for t in trials for key in t.user_attrs}),
    "system_attrs": {str(t.number): t.system_attrs for t in trials if t.system_attrs},
    "study_user_attrs": sorted(study.user_attrs),
    "dashboard_trials": len(detail["trials"]),
}))

#!/usr/bin/env python3
"""Validate NWB files with pynwb, and check pynwb can read what autopatch wrote.

usage: validate-nwb.py FILE...      validate each file, print one JSON report per file
       validate-nwb.py --probe      report whether a validator is available

For each file:
  1. pynwb.validate against the namespaces cached in the file (/specifications);
  2. pynwb.validate against the core namespace pynwb ships (catches a cached
     spec that drifted from the real one);
  3. a full read with NWBHDF5IO: every series' data (with the SHA-256 of its
     samples as read, little-endian float32 bytes, so a caller can compare them
     with what it stored without trusting the writer's own reader), electrode ->
     device links, sweep_table.get_series for each sweep number, every icephys
     table turned into a DataFrame (object references followed), and the subject.

pynwb is imported from the system, or else from the folder
scripts/install-nwb-validator.sh unpacks it into ($AUTOPATCH_NWB_VALIDATOR_DIR,
default /opt/autopatch/nwb-validator).

Exit status: 0 all valid, 1 errors found, 2 usage, 3 no validator available.
"""
import hashlib
import json
import os
import sys
import warnings

VALIDATOR_DIR = os.environ.get('AUTOPATCH_NWB_VALIDATOR_DIR', '/opt/autopatch/nwb-validator')


def import_pynwb():
    try:
        import pynwb  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.join(VALIDATOR_DIR, 'usr', 'lib', 'python3', 'dist-packages'))
        for name in [m for m in sys.modules if m == 'hdmf' or m.startswith('hdmf.')]:
            del sys.modules[name]
    import hdmf
    import pynwb
    return pynwb, hdmf


def ts_ref(ref):
    """[idx_start, count, series name]; pynwb reads the -1/-1 'not recorded' marker as None."""
    if ref.idx_start is None or ref.idx_start < 0:
        return [-1, -1, None]
    return [int(ref.idx_start), int(ref.count), ref.timeseries.name]


def read_nwb_version(path):
    import h5py
    with h5py.File(path, 'r') as f:
        v = f.attrs.get('nwb_version')
    return v.decode() if isinstance(v, bytes) else v


def read_check(pynwb, path):
    """Reads the whole file through pynwb; returns a summary (raises on failure)."""
    summary = {'nwb_version': read_nwb_version(path)}
    with pynwb.NWBHDF5IO(path, 'r', load_namespaces=True) as io:
        nwb = io.read()
        series = {}
        for where, group in (('acquisition', nwb.acquisition), ('stimulus', nwb.stimulus)):
            for name, ts in group.items():
                data = ts.data[:]
                series[f'{where}/{name}'] = {
                    'type': type(ts).__name__,
                    'dtype': str(data.dtype),
                    # bytes of the samples exactly as pynwb/h5py return them (float32, little-endian on any host)
                    'sha256': hashlib.sha256(data.astype(data.dtype.newbyteorder('<'), copy=False).tobytes()).hexdigest(),
                    'bias_current': float(ts.bias_current) if getattr(ts, 'bias_current', None) is not None else None,
                    'length': int(data.shape[0]),
                    'rate': float(ts.rate),
                    'starting_time': float(ts.starting_time),
                    'sweep_number': int(ts.sweep_number) if ts.sweep_number is not None else None,
                    'electrode': ts.electrode.name,
                    'device': ts.electrode.device.name,
                    'unit': ts.unit,
                }
        summary['series'] = series
        sweeps = sorted({s['sweep_number'] for s in series.values() if s['sweep_number'] is not None})
        if nwb.sweep_table is not None:
            summary['sweep_table'] = {str(n): sorted(ts.name + ':' + type(ts).__name__ for ts in nwb.sweep_table.get_series(n)) for n in sweeps}
        tables = {}
        for attr in ('intracellular_recordings', 'icephys_simultaneous_recordings', 'icephys_sequential_recordings',
                     'icephys_repetitions', 'icephys_experimental_conditions'):
            table = getattr(nwb, attr, None)
            if table is not None:
                tables[attr] = len(table.to_dataframe())
        summary['tables'] = tables
        if nwb.intracellular_recordings is not None:
            rows = []
            ir = nwb.intracellular_recordings
            for i in range(len(ir)):
                stim = ir['stimuli']['stimulus'][i]
                resp = ir['responses']['response'][i]
                rows.append({
                    'electrode': ir['electrodes']['electrode'][i].name,
                    'stimulus': ts_ref(stim),
                    'response': ts_ref(resp),
                })
            summary['recordings'] = rows
        summary['subject_id'] = nwb.subject.subject_id if nwb.subject is not None else None
        summary['subject'] = (
            {k: getattr(nwb.subject, k, None) for k in ('subject_id', 'species', 'sex', 'age', 'description')}
            if nwb.subject is not None else None
        )
    return summary


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__)
        return 2
    try:
        pynwb, hdmf = import_pynwb()
    except Exception as e:  # noqa: BLE001 - any import failure means "no validator"
        print(json.dumps({'available': False, 'reason': f'{type(e).__name__}: {e}',
                          'hint': 'run: sudo bash scripts/install-nwb-validator.sh'}))
        return 3
    versions = {'pynwb': pynwb.__version__, 'hdmf': hdmf.__version__, 'python': sys.version.split()[0]}
    if argv[0] == '--probe':
        print(json.dumps({'available': True, **versions}))
        return 0

    status = 0
    for path in argv:
        report = {'file': path, 'validator': versions}
        warnings.simplefilter('ignore')  # SweepTable is deprecated; pynwb says so on every read
        for key, cached in (('errors_cached_spec', True), ('errors_core_spec', False)):
            try:
                result = pynwb.validate(paths=[path], use_cached_namespaces=cached)
                errors, st = result if isinstance(result, tuple) else (result, 0)
                report[key] = [str(e) for e in errors] + ([f'validator status {st}'] if st else [])
            except Exception as e:  # noqa: BLE001
                report[key] = [f'validator crashed: {type(e).__name__}: {e}']
        try:
            report['read'] = read_check(pynwb, path)
            report['read_error'] = None
        except Exception as e:  # noqa: BLE001
            report['read'] = None
            report['read_error'] = f'{type(e).__name__}: {e}'
        report['valid'] = not report['errors_cached_spec'] and not report['errors_core_spec'] and report['read_error'] is None
        if not report['valid']:
            status = 1
        print(json.dumps(report))
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Regenerate the cached NWB specifications (core-*.json, hdmf-common-*.json) from
the YAML schema shipped in Debian's python3-pynwb package.

Usage: vendor.py PYNWB_DIST_PACKAGES OUT_DIR
  PYNWB_DIST_PACKAGES: the dist-packages folder of an unpacked python3-pynwb .deb
  (see README.md in this folder for the exact apt-get download steps).

Each output file holds one namespace in the shape hdmf caches it under
/specifications/<name>/<version>/: the namespace entry (sources named without
'.yaml', as the cached datasets are) and every schema source it lists.
"""
import json
import os
import sys

from ruamel.yaml import YAML


def load(path):
    with open(path, encoding='utf-8') as fh:
        return YAML(typ='safe').load(fh)


def export(ns_file, name, out_dir, origin):
    base = os.path.dirname(ns_file)
    ns = next(n for n in load(ns_file)['namespaces'] if n['name'] == name)
    sources = {}
    schema = []
    for entry in ns['schema']:
        if 'source' in entry:
            key = os.path.splitext(entry['source'])[0]
            sources[key] = load(os.path.join(base, entry['source']))
            schema.append({**entry, 'source': key})
        else:
            schema.append(entry)
    ns = {**ns, 'schema': schema}
    out = os.path.join(out_dir, f"{name}-{ns['version']}.json")
    with open(out, 'w', encoding='utf-8') as fh:
        json.dump({'origin': origin, 'namespace': ns, 'sources': sources}, fh, indent=1, ensure_ascii=False)
        fh.write('\n')
    print(out)


def main():
    dist, out_dir = sys.argv[1], sys.argv[2]
    schema = os.path.join(dist, 'pynwb', 'nwb-schema')
    origin = 'Debian package python3-pynwb (' + os.environ.get('PYNWB_DEB_VERSION', 'unknown version') + '), ' \
        'pynwb/nwb-schema; BSD-3-Clause-LBNL, see LICENSE-nwb-schema.txt'
    export(os.path.join(schema, 'core', 'nwb.namespace.yaml'), 'core', out_dir, origin)
    export(os.path.join(schema, 'hdmf-common-schema', 'common', 'namespace.yaml'), 'hdmf-common', out_dir, origin)


if __name__ == '__main__':
    main()

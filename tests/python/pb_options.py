"""Command-line options of the test helpers, declared in one call.

options("url token count:int", threads=4, retry=False, out=None) parses
--url and --token (required strings), --count (a required int), --threads
(an int, default 4), --retry (a flag) and --out (a string, default None):
a required name may end in :int or :float; an optional one takes the type
of its default (False: a flag, None: a string).
"""

import argparse

TYPES = {"str": str, "int": int, "float": float}


def options(required="", **optional):
    ap = argparse.ArgumentParser()
    for spec in required.split():
        name, _, kind = spec.partition(":")
        ap.add_argument("--" + name, type=TYPES[kind or "str"], required=True)
    for name, default in optional.items():
        flag = "--" + name.replace("_", "-")
        if default is False:
            ap.add_argument(flag, action="store_true")
        elif default is None:
            ap.add_argument(flag, default=None)
        else:
            ap.add_argument(flag, type=type(default), default=default)
    return ap.parse_args()

#!/usr/bin/env python3
"""walkthroughs.py README OUTDIR GATEWAY OPS TMP: writes the README's
walk-throughs (the sh blocks between "## Walk-throughs" and the next "## ")
as OUTDIR/walk-N.sh, one per block, to be run with bash -e against a
running `partnerbus dev`. The commands stay as written except:

- 127.0.0.1:8080 (the gateway) becomes GATEWAY, 127.0.0.1:9090 (the relay's
  ops listener) becomes OPS, /tmp/ becomes TMP/: dev and the test choose
  free ports and a directory of their own;
- a command that runs until stopped (`partnerbus relay`, `partnerbus poll
  ... --interval`) runs in the background, its output in TMP/<name>.log and
  its pid in TMP/<name>.pid, as in a terminal of its own;
- `tail -f FILE` ("in a third terminal") waits until FILE has $WALK_EXPECT
  lines; `xdg-open` is left out (no browser)."""
import os
import re
import sys

readme, outdir, gateway, ops, tmp = sys.argv[1:6]
text = open(readme, encoding="utf-8").read()
section = text.split("\n## Walk-throughs", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
for n, block in enumerate(blocks, 1):
    block = block.replace("127.0.0.1:8080", gateway).replace("127.0.0.1:9090", ops)
    block = block.replace("/tmp/", tmp.rstrip("/") + "/")
    # one command per entry: continuation lines joined
    cmds, cur = [], ""
    for line in block.splitlines():
        cur += line
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        cmds.append(cur)
        cur = ""
    out = []
    for c in cmds:
        s = c.strip()
        m = re.match(r"partnerbus (relay|poll)\b", s)
        if m and (m.group(1) == "relay" or "--interval" in s):
            name = m.group(1)
            out.append("%s > %s/%s.log 2>&1 &" % (s, tmp, name))
            out.append("echo $! > %s/%s.pid" % (tmp, name))
        elif s.startswith("tail -f "):
            f = s.split()[-1]
            out.append('for _ in $(seq 600); do [ "$(wc -l < %s 2>/dev/null || echo 0)" -ge "$WALK_EXPECT" ] && break; sleep 0.1; done' % f)
        elif s.startswith("xdg-open "):
            out.append("# " + s)
        else:
            out.append(c)
    with open(os.path.join(outdir, "walk-%d.sh" % n), "w", encoding="utf-8") as fp:
        fp.write("\n".join(out) + "\n")
print(len(blocks))

#!/bin/bash
# `make demo`: Cordon end to end on throw-away data under /tmp; everything it
# starts is stopped (by pid) at the end.
#  1. cordond (HTTPS + SigV4 API, 4 embedded chunk servers on 3 racks): a
#     tenant, a project, 1,000,000 generated users uploaded into a replicated
#     encrypted table, the udfs/ library uploaded as resources and made
#     functions, a 4-node job with a scalar UDF, a UDAF and a UDTF, its plan,
#     per-stage figures and audit trail, an INSERT into a new table, a denial,
#     the audit chain verified.
#  2. `cordon udf run` in the container, and a runaway UDF ended by its limit.
#  3. Four containers on a private job overlay (`cordon overlay run`), in a
#     network namespace of the demo's own, so the host's network is untouched.
#  4. The storage layer alone: a write, a read back, no plaintext at rest.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CORDON_BUILD_DIR:=$PWD/build}"
BIN="$CORDON_BUILD_DIR/bin"
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/cordon-demo.XXXXXX)
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# waits until FILE has a line starting with PREFIX (at most 30 s)
wait_line() {
	for _ in $(seq 300); do
		grep -q "^$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	return 1
}

step "1. cordond: a 4-node SQL job with Lua UDFs over a replicated, encrypted table"
"$BIN/cordond" --data-dir "$WORK/cordond" --listen 127.0.0.1:0 >"$WORK/cordond.out" \
	2>"$WORK/cordond.log" &
PIDS+=($!)
wait_line "$WORK/cordond.out" "cordond: serving"
cat "$WORK/cordond.out"
export CORDON_ENDPOINT=$(awk '{print $NF}' "$WORK/cordond.out")
export CORDON_CA_FILE="$WORK/cordond/tls/cert.pem"
export CORDON_ACCESS_KEY_ID=$(awk -F' = ' '/aws_access_key_id/{print $2}' "$WORK/cordond/admin.credentials")
export CORDON_SECRET_ACCESS_KEY=$(awk -F' = ' '/aws_secret_access_key/{print $2}' "$WORK/cordond/admin.credentials")
run "$BIN/cordon" whoami
printf '$ cordon admin storage status   # the chunk servers cordond started and supervises\n'
"$BIN/cordon" admin storage status |
	json '"chunk servers: %s" % ", ".join("%s on %s (%s)" % (s["id"][:8], s["rack"], s["state"]) for s in d["servers"])'
acme=$("$BIN/cordon" admin account create acme)
echo "created account acme (its access key is shown once, kept by the demo)"
export CORDON_ACCESS_KEY_ID=$(echo "$acme" | json 'd["accessKey"]["accessKeyId"]')
export CORDON_SECRET_ACCESS_KEY=$(echo "$acme" | json 'd["accessKey"]["secretAccessKey"]')
run "$BIN/cordon" admin project create sales >/dev/null
export CORDON_PROJECT=sales
ROWS=${DEMO_ROWS:-1000000}
printf '$ python3 (generate %s users: id, email, country, score, interests)\n' "$ROWS"
$PY - "$WORK/users.csv" "$ROWS" <<'PYEOF'
import random, sys
rnd = random.Random(7)
countries = ["CN", "US", "DE", "FR", "JP", "BR", "IN", "GB"]
topics = ["music", "sports", "travel", "food", "books", "games", "art", "tech"]
with open(sys.argv[1], "w") as f:
    f.write("id,email,country,score,interests\n")
    for i in range(int(sys.argv[2])):
        user = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 10)))
        score = "" if i % 101 == 0 else "%.4f" % rnd.lognormvariate(3, 0.8)
        f.write("%d,%s%d@example.com,%s,%s,%s\n" % (i, user, i, rnd.choice(countries), score,
                " ".join(rnd.sample(topics, rnd.randint(1, 3)))))
PYEOF
ls -l "$WORK/users.csv" | awk '{print "users.csv:", $5, "bytes"}'
run "$BIN/cordon" sql "CREATE TABLE users (id BIGINT, email STRING COMMENT 'pii', country STRING, score DOUBLE, interests STRING);"
run "$BIN/cordon" table upload sales users "$WORK/users.csv"
for f in mask agg text; do run "$BIN/cordon" resource put "udfs/$f.lua" >/dev/null; done
run "$BIN/cordon" sql "CREATE FUNCTION mask_email AS 'mask.mask_email' USING 'mask.lua';"
run "$BIN/cordon" sql "CREATE FUNCTION geomean AS 'agg.geomean' USING 'agg.lua';"
run "$BIN/cordon" sql "CREATE FUNCTION words AS 'text.words' USING 'text.lua';"
run "$BIN/cordon" sql "SHOW FUNCTIONS;"
Q="SELECT u.country, w.word, geomean(u.score) AS gm, COUNT(*) AS n, MIN(mask_email(u.email)) AS sample
FROM users u LATERAL VIEW words(u.interests) w AS word
GROUP BY u.country, w.word"
run "$BIN/cordon" sql "SET cordon.nodes=4; EXPLAIN $Q ORDER BY n DESC LIMIT 8;"
echo "# the job: scalar UDF mask_email, UDAF geomean, UDTF words, on 4 MAP + 4 REDUCE nodes"
run "$BIN/cordon" sql "SET cordon.nodes=4; $Q ORDER BY n DESC LIMIT 8;"
JOB=$("$BIN/cordon" sql --async "SET cordon.nodes=4; CREATE TABLE country_words AS $Q;")
"$BIN/cordon" job wait "$JOB" >/dev/null
printf '$ cordon job status %s   # the INSERT into a new table (CTAS), per stage\n' "$JOB"
"$BIN/cordon" job status "$JOB" | json '"\n".join(["status %s, wrote %s rows into %s; timings %s" % (d["status"], d["written"]["rows"], d["written"]["table"], d["timings"])] + ["stage %d %-6s x%d: rows in %d, rows out %d, cpu %d ms, peak memory %.1f MiB, wall %d ms" % (s["index"], s["kind"], s["nodes"], s["rowsIn"], s["rowsOut"], s["cpuMs"], s["peakMemoryBytes"] / 1048576.0, s["wallMs"]) for s in d["stages"]])'
run "$BIN/cordon" sql "SELECT country, SUM(n) AS users_x_interests, ROUND(AVG(gm), 3) AS avg_gm FROM country_words GROUP BY country ORDER BY country;"
printf '$ cordon audit list --project sales --event JobFinished   # the job trail\n'
"$BIN/cordon" audit list --project sales --event JobFinished | tail -n 3 |
	$PY -c 'import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(e.get("eventTime", ""), e.get("principal"), e.get("resource", "").split("/")[-1] + ":", e.get("reason"))'
"$BIN/cordon" admin user create bob >/dev/null
bob=$("$BIN/cordon" admin key create --user bob)
run "$BIN/cordon" sql 'ADD USER RAM$acme:bob; GRANT Select ON TABLE users (country) TO USER RAM$acme:bob;'
run "$BIN/cordon" sql 'EXPLAIN PERMISSION SELECT country, email FROM users;'
echo "# as RAM\$acme:bob, who may read only users.country:"
printf '$ cordon sql "SELECT email FROM users;"\n'
CORDON_ACCESS_KEY_ID=$(echo "$bob" | json 'd["accessKey"]["accessKeyId"]') \
	CORDON_SECRET_ACCESS_KEY=$(echo "$bob" | json 'd["accessKey"]["secretAccessKey"]') \
	"$BIN/cordon" sql "SELECT email FROM users;" || true
kill -TERM "${PIDS[0]}" && wait "${PIDS[0]}" || true
PIDS=()
run "$BIN/cordon" audit verify "$WORK/cordond/audit"

step "2. A Lua UDF from udfs/, in the container (profile udf) with the Lua sandbox's limits"
printf '["alice@example.com"]\n["bob.smith@corp.example"]\n[null]\n["not-an-email"]\n' >"$WORK/emails.jsonl"
run "$BIN/cordon" udf run udfs/mask.lua --function mask_email --input "$WORK/emails.jsonl"
printf '[1.0]\n[10.0]\n[100.0]\n' >"$WORK/nums.jsonl"
run "$BIN/cordon" udf run udfs/agg.lua --function geomean --input "$WORK/nums.jsonl"
echo 'return { spin = function() while true do end end }' >"$WORK/spin.lua"
run "$BIN/cordon" udf run "$WORK/spin.lua" --function spin --cpu-time 500ms || echo "(exit $?: the limit ended it)"

step "3. Four containers on a private job overlay, in the demo's own network namespace"
cat >"$WORK/node.py" <<'PYEOF'
import os, socket
i = int(os.environ["CORDON_NODE_INDEX"]); me = os.environ["CORDON_NODE_ADDR"]
peers = os.environ["CORDON_PEERS"].split(",")
if i == 0:
    s = socket.socket(); s.bind((me, 7000)); s.listen(8)
    got = []
    for _ in peers:
        c, (addr, _) = s.accept(); got.append(c.recv(64).decode()); c.close()
    print("node 0 heard:", ", ".join(sorted(got)), flush=True)
else:
    for _ in range(500):
        try:
            c = socket.create_connection((peers[0], 7000), timeout=5); break
        except ConnectionRefusedError:
            import time; time.sleep(0.01)
    c.sendall(("hello from node %d (%s)" % (i, me)).encode()); c.close()
PYEOF
run unshare --net -- "$BIN/cordon" overlay run --nodes 4 --run-dir "$WORK/ovl" \
	--ro-bind "$WORK/node.py:/work/node.py" -- /usr/bin/python3 /work/node.py

step "4. Replicated encrypted storage: 4 chunk servers on 3 racks, 3 replicas per chunk"
run "$BIN/cordon" admin storage init --data-dir "$WORK/storage" >/dev/null
"$BIN/cordon" admin storage serve --data-dir "$WORK/storage" --servers 4 --racks 3 \
	>"$WORK/serve.out" 2>"$WORK/serve.log" &
PIDS+=($!)
wait_line "$WORK/serve.out" "serving: 4"
cat "$WORK/serve.out"
$PY -c "
import sys
with open('$WORK/data.csv', 'w') as f:
    for i in range(200000):
        f.write('%d,user%d@example.com,SECRET-MARKER-%d\n' % (i, i, i))"
ls -l "$WORK/data.csv" | awk '{print "data.csv:", $5, "bytes"}'
run "$BIN/cordon" admin storage put --data-dir "$WORK/storage" --project sales --table 1 \
	--version 1 --in "$WORK/data.csv"
run "$BIN/cordon" admin storage get --data-dir "$WORK/storage" --table 1 --version 1 \
	--out "$WORK/back.csv"
cmp "$WORK/data.csv" "$WORK/back.csv" && echo "read back: identical"
"$BIN/cordon" admin storage status --data-dir "$WORK/storage" |
	json '"chunks %d, replicas %d, under-replicated %d, servers: %s" % (d["chunks"], d["replicas"], d["under_replicated"], ", ".join("%s(%s)" % (s["id"][:8], s["rack"]) for s in d["servers"]))'
if grep -rqa "SECRET-MARKER" "$WORK/storage"; then
	echo "PLAINTEXT FOUND AT REST" >&2
	exit 1
fi
echo "plaintext marker found in the chunk servers' files: none"
step "done: everything the demo started is stopped and $WORK is removed"

#!/usr/bin/env python3
"""Checks deploy/grafana/sales-agent.json against the metrics the server really exports.

  check_dashboard.py SALES_AGENT FAKE_LLM_SERVE DASHBOARD_JSON DATA_DIR

The dashboard must load as JSON, carry a Prometheus data-source variable and an instance
variable, and give every panel a data source and PromQL targets. Then a real server starts
(AUTH=off on 127.0.0.1, a fresh SQLite file in a temporary directory, the fake OpenAI
server as its model and an Apollo that refuses connections, so the LLM and connector
families register and get series), a few invokes and a pipeline run drive it, and its
/metrics is scraped: every metric name in every expression must be one it exports (a
histogram's _bucket, _sum and _count included), every label a selector or a by/without
clause names must be one of that family's labels, and every selector must filter on the
instance variable. Exits 1 naming each problem. Nothing but the standard library.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

problems = []


def problem(msg):
    problems.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


# ---- the dashboard's shape -----------------------------------------------------------------

def all_panels(panels):
    """Every panel, rows' nested (collapsed) panels included."""
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def check_shape(dash):
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 39:
        problem(f"schemaVersion {dash.get('schemaVersion')!r}: expected a current Grafana's (>= 39)")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("DS_PROMETHEUS")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problem("no DS_PROMETHEUS variable of type datasource (query prometheus)")
    inst = variables.get("instance")
    if not inst or inst.get("type") != "query":
        problem("no instance variable of type query")
    elif inst.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
        problem("the instance variable does not query ${DS_PROMETHEUS}")
    if not any(i.get("name") == "DS_PROMETHEUS" and i.get("pluginId") == "prometheus"
               for i in dash.get("__inputs", [])):
        problem("__inputs has no DS_PROMETHEUS prometheus input (import asks for the data source)")
    ids = set()
    exprs = []
    for p in all_panels(dash.get("panels", [])):
        title = p.get("title", "?")
        if p.get("id") in ids:
            problem(f"panel {title!r}: id {p.get('id')} used twice")
        ids.add(p.get("id"))
        if p.get("type") in ("row", "text"):
            continue
        if p.get("datasource", {}).get("uid") != "${DS_PROMETHEUS}":
            problem(f"panel {title!r}: its datasource is not ${{DS_PROMETHEUS}}")
        targets = p.get("targets") or []
        if not targets:
            problem(f"panel {title!r}: no targets")
        for t in targets:
            expr = t.get("expr", "")
            if not expr.strip():
                problem(f"panel {title!r} target {t.get('refId')}: no expr")
                continue
            # a single value (the range's increase, the current gauge): one instant query
            if p.get("type") in ("stat", "bargauge") and \
                    (t.get("instant") is not True or t.get("range") is not False):
                problem(f"panel {title!r} target {t.get('refId')}: a {p.get('type')} panel's "
                        "query should be instant (instant: true, range: false)")
            # a ratio whose numerator has no series yet (no 5xx, no error) is 0, not No data
            if p.get("type") == "stat" and " / " in expr and "or vector(0)" not in expr:
                problem(f"panel {title!r} target {t.get('refId')}: a ratio without "
                        "\"or vector(0)\" shows No data on a healthy system")
            tds = t.get("datasource", p.get("datasource", {}))
            if tds.get("uid") != "${DS_PROMETHEUS}":
                problem(f"panel {title!r} target {t.get('refId')}: datasource is not ${{DS_PROMETHEUS}}")
            exprs.append((title, expr))
    return exprs


# ---- PromQL: the metric names and label names an expression uses ---------------------------

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
            "or", "unless", "offset", "inf", "nan"}
# Tokens: strings, numbers (before names, so 1e3 is not the name e3), Grafana variables,
# durations in brackets, braces, parentheses, names, and anything else one character.
TOKEN = re.compile(r'''
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<range>\[[^\]]*\])
  | (?P<var>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<space>\s+)
  | (?P<other>.)
''', re.X)


def tokens(expr):
    # "offset 1h" and "@ 1700000000" modifiers name no metric (1h would read as 1 and h)
    expr = re.sub(r"\b(offset)\s+-?[0-9A-Za-z_${}]+|@\s*[0-9A-Za-z_.()${}]+", " ", expr)
    out = []
    for m in TOKEN.finditer(expr):
        kind = m.lastgroup
        if kind != "space":
            out.append((kind, m.group()))
    return out


def parse_expr(expr):
    """Returns ([(metric, [label names in its selector], has instance matcher)], [label
    names in by/without/on/ignoring/group_* clauses]). A name followed by "(" is a function
    or an aggregation; a name inside {...} is a label (before its operator); a name inside
    the parentheses after by, without, on, ignoring or group_* is a label; any other
    name that is not a keyword is a metric."""
    toks = tokens(expr)
    selectors, grouping = [], []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else (None, None)
        if kind == "name" and text.lower() in KEYWORDS:
            if text in ("by", "without", "on", "ignoring", "group_left", "group_right") \
                    and nxt[1] == "(":
                j = i + 2
                while j < len(toks) and toks[j][1] != ")":
                    if toks[j][0] == "name":
                        grouping.append(toks[j][1])
                    j += 1
                i = j + 1
                continue
            i += 1
            continue
        if kind == "name" and (nxt[1] == "(" or nxt[1] in ("by", "without")):
            i += 1  # a function, or an aggregation (sum by (...) (...))
            continue
        if kind == "name" or (kind == "other" and text == "{"):
            metric = text if kind == "name" else None
            labels, has_instance = [], False
            j = i + 1 if kind == "name" else i
            if j < len(toks) and toks[j][1] == "{":
                j += 1
                while j < len(toks) and toks[j][1] != "}":
                    if toks[j][0] == "name" and j + 1 < len(toks) and toks[j + 1][1] in ("=", "!"):
                        labels.append(toks[j][1])
                        value = next((t for t in toks[j + 1:] if t[0] == "string"), None)
                        if toks[j][1] == "instance" and value and "$instance" in value[1]:
                            has_instance = True
                    j += 1
                j += 1
            if metric is None:
                labels_no_name = [lab for lab in labels if lab != "__name__"]
                selectors.append((None, labels_no_name, has_instance))
            else:
                selectors.append((metric, labels, has_instance))
            i = j
            continue
        i += 1
    return selectors, grouping


# ---- the server ----------------------------------------------------------------------------

def free_dir():
    return tempfile.mkdtemp(prefix="sa-grafana.")


def http(port, method, path, body=None, content_type="application/json"):
    data = None
    if body is not None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": content_type} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def start_server(binary, data_dir, tmp, llm_url):
    env = dict(os.environ)
    env.update({
        "AUTH": "off", "HOST": "127.0.0.1", "PORT": "0",
        "DATABASE_URL": f"sqlite://{tmp}/db.sqlite", "DATA_DIR": data_dir,
        "MAIL_TRANSPORT": f"maildir:{tmp}/mail",
        "LLM_PROVIDER": "openai", "LLM_BASE_URL": llm_url, "LLM_MODEL": "gpt-4o-mini",
        "LLM_API_KEY": "sk-test-grafana",
        # an Apollo nobody answers: the connector families register and count errors
        "ENRICHMENT_PROVIDERS": "apollo,local", "APOLLO_API_KEY": "apollo-test-key",
        "APOLLO_BASE_URL": "http://127.0.0.1:9", "APOLLO_TIMEOUT_MS": "2000",
    })
    for k in ("REDIS_URL", "CRM_PROVIDER"):
        env.pop(k, None)
    out = open(os.path.join(tmp, "server.out"), "w")
    log = open(os.path.join(tmp, "server.log"), "w")
    proc = subprocess.Popen([binary, "serve", "--threads", "2"], env=env, stdout=out,
                            stderr=log, stdin=subprocess.DEVNULL)
    out.close()
    log.close()
    port = None
    for _ in range(600):  # start-up under sanitizers: up to a minute
        if proc.poll() is not None:
            break
        with open(os.path.join(tmp, "server.out")) as f:
            m = re.search(r"is listening on http://127\.0\.0\.1:(\d+)", f.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    if port is None:
        with open(os.path.join(tmp, "server.log")) as f:
            sys.stderr.write(f.read()[-4000:])
        proc.kill()
        proc.wait()
        sys.exit("the server did not start")
    return proc, port


def drive(port, data_dir):
    with open(os.path.join(data_dir, "sample_leads.json")) as f:
        leads = json.load(f)["leads"]
    for lead in leads[:2]:
        lead = {k: v for k, v in lead.items() if k != "id"}
        for agent in ("qualification", "enrichment", "growth", "marketing", "pipeline"):
            st, body = http(port, "POST", "/api/langgraph/invoke",
                            {"agent_type": agent, "input": lead})
            if st != 200:
                problem(f"invoke {agent}: HTTP {st} {body[:200]}")
    st, body = http(port, "POST", "/api/langgraph/invoke",
                    {"agent_type": "conversation",
                     "input": {"message": "Hello, how much does the Growth plan cost per seat?"}})
    if st != 200:
        problem(f"invoke conversation: HTTP {st} {body[:200]}")
    st, body = http(port, "POST", "/api/runs", {"input": {k: v for k, v in leads[2].items()
                                                          if k != "id"}})
    if st != 202:
        problem(f"POST /api/runs: HTTP {st} {body[:200]}")
    http(port, "GET", "/api/leads/not-a-uuid")  # a 4xx series
    # a reply to nothing we sent: inbound_messages_total{kind="unmatched"}
    mail = ("From: Dana Whitfield <dana.whitfield@brightloom.example>\r\n"
            "To: sales@example.com\r\nSubject: Re: your note\r\n"
            "Message-ID: <7f3a.grafana@brightloom.example>\r\n"
            "Date: Thu, 03 Dec 2026 07:40:00 +0000\r\n\r\nThanks, not right now.\r\n")
    st, body = http(port, "POST", "/api/inbound/email", mail, "message/rfc822")
    if st != 200:
        problem(f"POST /api/inbound/email: HTTP {st} {body[:200]}")


def parse_metrics(text):
    """{family: {"type": kind, "names": {sample names}, "labels": {label names}}}"""
    fams = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            name, kind = m.groups()
            names = {name}
            if kind == "histogram":
                names = {name + "_bucket", name + "_sum", name + "_count"}
            elif kind == "summary":
                names = {name, name + "_sum", name + "_count"}
            fams[name] = {"type": kind, "names": names, "labels": set(), "series": 0}
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s", line)
        if not m:
            problem(f"/metrics: a line that is not a sample: {line[:120]!r}")
            continue
        name, labels = m.groups()
        fam = next((f for f in fams.values() if name in f["names"]), None)
        if fam is None:
            problem(f"/metrics: sample {name} without a # TYPE line")
            continue
        fam["series"] += 1
        for lab in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', labels or ""):
            fam["labels"].add(lab)
    return fams


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    binary, fake_llm, dash_path, data_dir = sys.argv[1:]
    with open(dash_path) as f:
        dash = json.load(f)  # a syntax error fails here, naming the line
    exprs = check_shape(dash)
    if not exprs:
        problem("the dashboard has no PromQL expressions")

    tmp = free_dir()
    llm = subprocess.Popen([fake_llm, "openai", "sk-test-grafana"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)
    server = None
    try:
        llm_url = llm.stdout.readline().strip()
        if not llm_url.startswith("http"):
            sys.exit(f"fake_llm_serve printed {llm_url!r}, not its base URL")
        server, port = start_server(binary, data_dir, tmp, llm_url)
        drive(port, data_dir)
        st, text = http(port, "GET", "/metrics")
        if st != 200:
            sys.exit(f"GET /metrics: HTTP {st}")
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            if server.wait(timeout=60) != 0:
                with open(os.path.join(tmp, "server.log")) as f:
                    sys.stderr.write(f.read()[-4000:])
                problem(f"the server exited with status {server.returncode}")
        llm.stdin.close()
        llm.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    fams = parse_metrics(text)
    exported = {n: fam for fam in fams.values() for n in fam["names"]}
    used = set()
    for title, expr in exprs:
        selectors, grouping = parse_expr(expr)
        if not any(s[0] for s in selectors):
            problem(f"panel {title!r}: no metric in {expr!r}")
        expr_labels, unknown_labels = set(), False
        for metric, labels, has_instance in selectors:
            if metric is None:
                problem(f"panel {title!r}: a selector without a metric name in {expr!r}")
                continue
            fam = exported.get(metric)
            if fam is None:
                base = re.sub(r"_(bucket|sum|count)$", "", metric)
                hint = ""
                if base in fams and fams[base]["type"] == "histogram":
                    hint = f" (a histogram: use {base}_bucket, _sum or _count)"
                elif metric in fams and fams[metric]["type"] == "histogram":
                    hint = f" (a histogram: use {metric}_bucket, _sum or _count)"
                problem(f"panel {title!r}: {metric} is not a metric the server exports{hint}")
                unknown_labels = True
                continue
            used.add(next(k for k, v in fams.items() if v is fam))
            allowed = fam["labels"] | {"instance", "job", "__name__"}
            if metric.endswith("_bucket"):
                allowed.add("le")
            for lab in labels:
                if fam["series"] and lab not in allowed:
                    problem(f"panel {title!r}: {metric} has no label {lab!r} "
                            f"(it has {sorted(fam['labels'])})")
            if not has_instance:
                problem(f"panel {title!r}: {metric} is not filtered by instance=~\"$instance\"")
            if fam["series"]:
                expr_labels |= allowed
            else:
                unknown_labels = True
        for lab in grouping:
            if not unknown_labels and lab not in expr_labels:
                problem(f"panel {title!r}: groups by {lab!r}, a label none of its metrics has")
    bare = sorted(k for k, v in fams.items() if not v["series"] and k in used)
    if bare:
        print("note: families without series, their labels not checked: " + ", ".join(bare))
    unused = sorted(set(fams) - used)
    if unused:
        print("note: exported families no panel shows: " + ", ".join(unused))
    print(f"{len(exprs)} expressions over {len(used)} of {len(fams)} exported families checked")
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

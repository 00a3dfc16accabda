#!/usr/bin/env bash
# The sampling and tenant_route processors through a real kiln process: the
# pprof receiver gets corpus profiles with X-Scope-OrgID and labels in
# name={...}; two testsink exporters record what reaches them (tenant,
# labels, bytes). Checks routing (by tenant, by label, default, drop),
# tenants from labels, every limit's answer to the sender (400/413/429) and
# its counter, rate limits (drop and 429), hash sampling (deterministic,
# about the right share), scaling, and that label-only pipelines never
# decode (kiln_payload_decodes_total stays 0).
source "$(dirname "$0")/lib.sh"
CORPUS=${KILN_CORPUS:-$(dirname "$0")/../../../shared/corpus}
PROF=$CORPUS/pprof__sample.cpu.pb.gz
PROF_BYTES=$(wc -c <"$PROF")
PORT=$(free_port); MPORT=$(free_port)

# write_cfg FILE PROCESSOR_IDS -- the processors section comes on stdin
write_cfg() {
  local f=$1 procs=$2
  {
    echo "receivers:"
    echo "  pprof:"
    echo "    endpoint: 127.0.0.1:$PORT"
    echo "processors:"
    cat
    cat <<YAML
exporters:
  testsink/a:
    record: $WORK/a.txt
  testsink/b:
    record: $WORK/b.txt
service:
  telemetry:
    metrics: {address: 127.0.0.1:$MPORT}
  pipelines:
    profiles:
      receivers: [pprof]
      processors: [$procs]
      exporters: [testsink/a, testsink/b]
YAML
  } >"$f"
}

enc() { printf '%s' "$1" | sed -e 's/{/%7B/g' -e 's/}/%7D/g' -e 's/=/%3D/g' -e 's/,/%2C/g' -e 's/ /%20/g'; }

# post TENANT NAME [TAG] -> prints the HTTP code; body in $WORK/body.TAG, headers in $WORK/h.TAG
post() {
  local tenant=$1 name=$2 tag=${3:-last} hdr=()
  [ -n "$tenant" ] && hdr=(-H "X-Scope-OrgID: $tenant")
  curl -s -o "$WORK/body.$tag" -D "$WORK/h.$tag" -w '%{http_code}' --max-time 20 "${hdr[@]}" \
    --data-binary @"$PROF" "http://127.0.0.1:$PORT/ingest?name=$(enc "$name")&format=pprof"
}

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# truncate, not remove: a running testsink keeps appending to its open file
reset_records() { : >"$WORK/a.txt"; : >"$WORK/b.txt"; }
m() { metric "$1"; }

# ---------------------------------------------------------------------------------
# 1. tenant_route: routes by tenant and label, tenant from a label, drop unmatched
reset_records
write_cfg "$WORK/r.yaml" tenant_route <<'YAML'
  tenant_route:
    tenant_label: org
    remove_tenant_label: true
    routes:
      - tenants: [a]
        exporters: [testsink/a]
      - tenants: [b]
        exporters: [testsink/b]
      - match: {env: "prod|staging"}
        exporters: [testsink/a, testsink/b]
      - tenants: [s, small, wide]
        exporters: [testsink/b]
    unmatched: drop
    limits:
      max_label_names_per_series: 8
      max_label_value_length: 20
      max_series_per_tenant: 2
      overrides:
        small: {max_profile_size: 1000}
        wide: {max_series_per_tenant: 0}
YAML
check "kiln validate accepts the routing config" "$KILN" validate --config "$WORK/r.yaml" --plugin-dir "$PLUGINS"
start_kiln "$WORK/r.yaml" || exit 1
check "tenant a -> 200" [ "$(post a 'app1{x=1}')" = 200 ]
check "tenant b -> 200" [ "$(post b 'app2{x=1}')" = 200 ]
check "tenant from label org=b -> 200" [ "$(post '' 'app3{org=b}')" = 200 ]
check "env=prod of another tenant -> 200" [ "$(post z 'app4{env=prod}')" = 200 ]
check "unmatched profile -> 200 (dropped, not refused)" [ "$(post z 'app5{env=dev}')" = 200 ]
check "testsink/a got exactly a's profile and the env=prod one" [ "$(lines "$WORK/a.txt")" -eq 2 ]
check "testsink/b got b's two profiles and the env=prod one" [ "$(lines "$WORK/b.txt")" -eq 3 ]
check "a: tenant a, its labels, the bytes as received" \
  grep -qx "tenant=a bytes=$PROF_BYTES labels={__delta__=\"false\", __name__=\"process_cpu\", pyroscope_spy=\"unknown\", service_name=\"app1\", x=\"1\"}" "$WORK/a.txt"
check "a: the env=prod profile under tenant z" grep -q '^tenant=z .*env="prod".*service_name="app4"' "$WORK/a.txt"
check "b: the env=prod profile too" grep -q '^tenant=z .*service_name="app4"' "$WORK/b.txt"
check "b: tenant b from the label, and the label removed" \
  grep -qx "tenant=b bytes=$PROF_BYTES labels={__delta__=\"false\", __name__=\"process_cpu\", pyroscope_spy=\"unknown\", service_name=\"app3\"}" "$WORK/b.txt"
check "the unmatched profile reached nobody" bash -c "! grep -q app5 '$WORK/a.txt' '$WORK/b.txt'"
check "no_route drop counted" [ "$(m 'kiln_processor_dropped_profiles_total{processor="tenant_route",pipeline="profiles",reason="no_route"}')" -eq 1 ]
check "routed counter of route 2" [ "$(m 'kiln_tenant_route_routed_profiles_total{processor="tenant_route",pipeline="profiles",route="2"}')" -eq 1 ]

# limits: each a clear answer to the sender and a counter
code=$(post a 'app{a=1,b=2,c=3,d=4,e=5}' lbl)
check "9 label names -> 400 ($code)" [ "$code" = 400 ]
check "the 400 says why" grep -q "has 9 label names; limit 8" "$WORK/body.lbl"
code=$(post a 'app{v=abcdefghijklmnopqrstuvwxyz}' val)
check "long label value -> 400 ($code)" [ "$code" = 400 ]
check "the 400 names the value" grep -q "has label value too long: 'abcdefghijklmnopqrstuvwxyz' (label v, 26 bytes; limit 20)" "$WORK/body.val"
code=$(post 'a b' 'app' ten)
check "invalid tenant -> 400 ($code)" [ "$code" = 400 ]
code=$(post '' 'app{org=x/y}' tenl)
check "invalid tenant label -> 400 ($code)" [ "$code" = 400 ]
check "the 400 names the label" grep -q "tenant from label .*org.*unsupported character '/'" "$WORK/body.tenl"
code=$(post small 'app' size)
check "profile over the tenant's max_profile_size -> 413 ($code)" [ "$code" = 413 ]
check "the 413 gives sizes" grep -q "exceeds the size limit (max_profile_size, actual: $PROF_BYTES, limit: 1000)" "$WORK/body.size"
check "series 1 of tenant s" [ "$(post s 'app{i=1}')" = 200 ]
check "series 2 of tenant s" [ "$(post s 'app{i=2}')" = 200 ]
check "series 1 again" [ "$(post s 'app{i=1}')" = 200 ]
code=$(post s 'app{i=3}' ser)
check "series 3 of tenant s -> 429 ($code)" [ "$code" = 429 ]
check "the 429 says why" grep -q "per-tenant series limit of 2 exceeded for tenant 's'" "$WORK/body.ser"
check "the 429 carries Retry-After" grep -qi '^Retry-After:' "$WORK/h.ser"
check "tenant wide has no series limit" [ "$(post wide 'app{i=1}')$(post wide 'app{i=2}')$(post wide 'app{i=3}')" = 200200200 ]
for r in max_label_names_per_series max_label_value_length max_profile_size max_series_per_tenant; do
  check "rejected counter $r = 1" [ "$(m "kiln_tenant_route_rejected_profiles_total{processor=\"tenant_route\",pipeline=\"profiles\",reason=\"$r\"}")" -eq 1 ]
done
check "rejected counter invalid_tenant = 1 (the header one is refused by the receiver)" \
  [ "$(m 'kiln_tenant_route_rejected_profiles_total{processor="tenant_route",pipeline="profiles",reason="invalid_tenant"}')" -eq 1 ]
check "refused profiles counted by the core" [ "$(m 'kiln_processor_refused_profiles_total{processor="tenant_route",pipeline="profiles"}')" -eq 5 ]
check "routing and label limits never decoded a payload" [ "$(m kiln_payload_decodes_total)" -eq 0 ]
stop_kiln

# ---------------------------------------------------------------------------------
# 2. sampling rate_limit: drop per series, refuse per tenant with 429
reset_records
write_cfg "$WORK/s.yaml" "sampling/drop, sampling/refuse" <<YAML
  sampling/drop:
    mode: rate_limit
    per: series
    profiles_per_second: 0.01
    burst_profiles: 2
  sampling/refuse:
    mode: rate_limit
    bytes_per_second: $((PROF_BYTES * 3))
    burst_bytes: $((PROF_BYTES * 3))
    on_limit: refuse
YAML
start_kiln "$WORK/s.yaml" || exit 1
codes=""
for i in 1 2 3; do codes="$codes$(post t 'app{s=1}') "; done
check "per-series limit drops the 3rd profile of a series but answers 200 ($codes)" [ "$codes" = "200 200 200 " ]
check "only two of series s=1 were exported" [ "$(grep -c 's="1"' "$WORK/a.txt")" -eq 2 ]
check "rate_limited drops counted" [ "$(m 'kiln_processor_dropped_profiles_total{processor="sampling/drop",pipeline="profiles",reason="rate_limited"}')" -eq 1 ]
check "the dropped profile took no bytes: a third passes" [ "$(post t 'app{s=2}')" = 200 ]
code=$(post t 'app{s=3}' rl)
check "the tenant's byte budget (3 profiles) is spent: the next -> 429 ($code)" [ "$code" = 429 ]
check "the 429 reads like Pyroscope's" grep -q "push rate limit (5.4 KiB/s) exceeded while adding 1.8 KiB for tenant 't'" "$WORK/body.rl"
check "429 carries Retry-After" grep -qi '^Retry-After:' "$WORK/h.rl"
check "another tenant still passes" [ "$(post u 'app{s=2}')" = 200 ]
check "rate limits never decoded a payload" [ "$(m kiln_payload_decodes_total)" -eq 0 ]
stop_kiln

# ---------------------------------------------------------------------------------
# 3. probabilistic sampling: the same series are kept every time, about half of them
reset_records
write_cfg "$WORK/p.yaml" sampling <<'YAML'
  sampling:
    mode: probabilistic
    percentage: 50
    hash_seed: 11
YAML
start_kiln "$WORK/p.yaml" || exit 1
for pass in 1 2; do
  for i in $(seq 1 40); do post t "app{i=$i}" >/dev/null; done
  sed -n 's/.*i="\([0-9]*\)".*/\1/p' "$WORK/a.txt" | sort -n >"$WORK/kept.$pass"
  reset_records
done
k1=$(wc -l <"$WORK/kept.1")
check "about half of 40 series kept ($k1)" test "$k1" -ge 8 -a "$k1" -le 32
check "the same series kept on the second pass" cmp -s "$WORK/kept.1" "$WORK/kept.2"
check "dropped_by_sampling_rules counted" [ "$(m 'kiln_processor_dropped_profiles_total{processor="sampling",pipeline="profiles",reason="dropped_by_sampling_rules"}')" -eq $((2 * (40 - k1))) ]
check "hash sampling never decoded a payload" [ "$(m kiln_payload_decodes_total)" -eq 0 ]
stop_kiln

# a second kiln with the same seed keeps the same series (two gateways agree)
start_kiln "$WORK/p.yaml" || exit 1
for i in $(seq 1 40); do post t "app{i=$i}" >/dev/null; done
sed -n 's/.*i="\([0-9]*\)".*/\1/p' "$WORK/a.txt" | sort -n >"$WORK/kept.3"
check "another instance keeps the same series" cmp -s "$WORK/kept.1" "$WORK/kept.3"
stop_kiln

# scale_values: kept profiles are re-made (new bytes), counted
reset_records
write_cfg "$WORK/v.yaml" sampling <<'YAML'
  sampling:
    mode: probabilistic
    percentage: 50
    hash_seed: 11
    scale_values: true
YAML
start_kiln "$WORK/v.yaml" || exit 1
for i in $(seq 1 40); do post t "app{i=$i}" >/dev/null; done
sed -n 's/.*i="\([0-9]*\)".*/\1/p' "$WORK/a.txt" | sort -n >"$WORK/kept.4"
check "scale_values keeps the same series" cmp -s "$WORK/kept.1" "$WORK/kept.4"
check "every kept profile was scaled" [ "$(m 'kiln_sampling_scaled_profiles_total{processor="sampling",pipeline="profiles"}')" -eq "$k1" ]
check "scaled profiles carry new bytes" bash -c "! grep -q 'bytes=$PROF_BYTES ' '$WORK/a.txt'"
stop_kiln

# ---------------------------------------------------------------------------------
# 4. config errors name file:line:col
write_cfg "$WORK/bad1.yaml" tenant_route <<'YAML'
  tenant_route:
    routes:
      - tenants: [a]
        exporters: [testsink/c]
YAML
out=$(timeout 5 "$KILN" --config "$WORK/bad1.yaml" --plugin-dir "$PLUGINS" 2>&1)
check "an exporter outside the pipeline is refused at start with its position ($out)" \
  has "$out" 'bad1.yaml:8:21.*exporter "testsink/c" is not in this pipeline'
write_cfg "$WORK/bad2.yaml" tenant_route <<'YAML'
  tenant_route:
    routes:
      - match: {env: "(prod"}
        exporters: [testsink/a]
YAML
out=$("$KILN" validate --config "$WORK/bad2.yaml" --plugin-dir "$PLUGINS" 2>&1)
check "an invalid regex fails validate with its position ($out)" has "$out" 'bad2.yaml:7:22.*invalid regex'
write_cfg "$WORK/bad3.yaml" sampling <<'YAML'
  sampling:
    mode: rate_limit
    percentage: 5
YAML
out=$("$KILN" validate --config "$WORK/bad3.yaml" --plugin-dir "$PLUGINS" 2>&1)
check "a field of the other mode fails validate with its position ($out)" has "$out" 'bad3.yaml:7:17.*percentage does not apply to mode rate_limit'
finish

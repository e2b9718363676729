"""clickhouse_server.py - a ClickHouse server of its own for a test or a
benchmark: Debian's clickhouse-server on loopback, with its data, logs and
ports in a temporary directory, stopped (and the directory removed) on
leaving the `with` block, on an exception, or on SIGTERM/SIGINT (meson's
timeout).

    with ClickHouse() as ch:
        ch.query("SELECT 1")
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SERVER_PATHS = ["/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"]


class Unavailable(Exception):
    """ClickHouse cannot run here at all (not a failure of ctrace)."""


def find_server():
    for path in SERVER_PATHS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("clickhouse-server")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{dir}/log/server.log</log>
    <errorlog>{dir}/log/error.log</errorlog>
    <console>0</console>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/user_files/</user_files_path>
  <format_schema_path>{dir}/format_schemas/</format_schema_path>
  <users_config>{dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
  <profiles>
    <default><max_memory_usage>4000000000</max_memory_usage>{settings}</default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
      <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default>
  </quotas>
</yandex>
"""


class ClickHouse:
    def __init__(self, ready_seconds=120, settings=None):
        self.server = find_server()
        if not self.server:
            raise FileNotFoundError("clickhouse-server is not installed (scripts/deps.sh installs "
                                    "Debian's package)")
        cpu = open("/proc/cpuinfo").read()
        if "sse4_2" not in cpu:
            raise Unavailable("this CPU lacks SSE 4.2, which ClickHouse requires")
        self.ready_seconds = ready_seconds
        self.settings = "".join(f"<{k}>{v}</{k}>" for k, v in (settings or {}).items())
        self.dir = None
        self.proc = None
        self.url = None
        self._old_handlers = {}

    # ---- lifetime ----

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        return False

    def _on_signal(self, signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    def _start(self):
        last = ""
        for attempt in range(3):  # ports picked free may be taken before the server binds
            self.dir = tempfile.mkdtemp(prefix="ctrace-clickhouse-")
            for sub in ("log", "data", "tmp", "user_files", "format_schemas"):
                os.makedirs(os.path.join(self.dir, sub))
            http, tcp = free_port(), free_port()
            with open(os.path.join(self.dir, "config.xml"), "w") as f:
                f.write(CONFIG.format(dir=self.dir, http=http, tcp=tcp))
            with open(os.path.join(self.dir, "users.xml"), "w") as f:
                f.write(USERS.format(settings=self.settings))
            self.url = f"http://127.0.0.1:{http}"
            out = open(os.path.join(self.dir, "log", "stdout.log"), "w")
            self.proc = subprocess.Popen(
                [self.server, f"--config-file={self.dir}/config.xml"], stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir,
                start_new_session=True)
            out.close()
            deadline = time.monotonic() + self.ready_seconds
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(self.url + "/ping", timeout=5) as r:
                        if r.read().strip() == b"Ok.":
                            return
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
                time.sleep(0.2)
            last = self.log_tail()
            self.stop()
            if "Address already in use" not in last:
                break
        if "Illegal instruction" in last or "SSE" in last:
            raise Unavailable("clickhouse-server cannot run on this CPU: " + last[-300:])
        raise RuntimeError("clickhouse-server did not become ready:\n" + last)

    def log_tail(self, n=4000):
        text = ""
        for name in ("stdout.log", "error.log"):
            path = os.path.join(self.dir or "", "log", name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += f.read()[-n:]
        return text

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # ---- queries ----

    def query(self, sql, database=None, data=None):
        """The answer's body (bytes); raises RuntimeError with the server's
        words on an error. With data, sql goes in the URL and data is the
        body (an INSERT's rows)."""
        url = self.url + "/?"
        params = {}
        if database:
            params["database"] = database
        if data is not None:
            params["query"] = sql
            body = data
        else:
            body = sql.encode()
        url += urllib.parse.urlencode(params)
        req = urllib.request.Request(url, data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=300) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"ClickHouse: HTTP {e.code}: {e.read().decode(errors='replace')}")

    def rows(self, sql, database=None):
        """The answer as a list of dicts (JSONEachRow, 64-bit integers as
        Python ints)."""
        import json
        text = self.query(sql + " FORMAT JSONEachRow", database).decode()
        out = []
        for line in text.splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def wait_mutations(self, database, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.rows(f"SELECT count() AS n FROM system.mutations WHERE database = "
                             f"'{database}' AND is_done = 0")
            if int(left[0]["n"]) == 0:
                return True
            time.sleep(0.2)
        return False


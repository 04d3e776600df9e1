"""Headless Chromium driven through its DevTools protocol, for the
dashboard's tests: open a page, read and act on its live DOM with
Runtime.evaluate, take a screenshot. Debian's chromium and
python3-websocket; the browser runs with a fresh profile and is stopped by
its own pid."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

from conftest import free_port, wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab, over its own DevTools websocket."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") != mid:
                continue  # an event
            if "error" in msg:
                raise RuntimeError("%s: %s" % (method, msg["error"]))
            return msg.get("result", {})

    def eval(self, expr):
        """The value of a JavaScript expression in the page (promises awaited)."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("page: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def wait(self, expr, timeout=10):
        """Polls expr until it is truthy; returns its last value."""
        return wait_until(lambda: self.eval(expr), timeout, step=0.1)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        self.ws.close()


class Chromium:
    def __init__(self, width=1280, height=900):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="ferry-chromium-")
        self.log = open(os.path.join(self.profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--remote-allow-origins=*", "--window-size=%d,%d" % (width, height),
             "--user-data-dir=" + self.profile, "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=%d" % self.port, "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_until(self._ready, 30, step=0.2):
            self.stop()
            raise RuntimeError("chromium's DevTools did not answer")

    def _ready(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/version" % self.port, timeout=1):
                return True
        except OSError:
            return False

    def open(self, url):
        req = urllib.request.Request("http://127.0.0.1:%d/json/new?%s" % (self.port, url), method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            target = json.load(r)
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Runtime.enable")
        return page

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

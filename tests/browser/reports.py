"""The reports site in a real browser: Debian's Chromium driven by Playwright for Python (no
browser download). Starts `dw serve --demo` in a temporary folder, signs in through the real
sign-in page as the demo user, and checks that the compliance overview shows what the OData API
answers for the same requests, that a device named with markup is shown as text, that the site
sends its security headers, that no request leaves the service's origin, and that the console
has no error; saves a screenshot of each page under the build directory.

    python3 tests/browser/reports.py DW_BINARY SCREENSHOT_DIR
"""

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
SERVICE = "/ReportingService/DataWarehouseFEService"
# Chromium's own connections would be refused by this machine's closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(dw, folder, port, log_name):
    """`dw serve --demo` on 127.0.0.1:`port` in `folder` (the demo's store there, created on the
    first start); returns the process and its log, read from the start."""
    log = open(os.path.join(folder, log_name), "w+")
    process = subprocess.Popen(
        [dw, "serve", "--demo", "--listen", f"127.0.0.1:{port}"],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, log


def wait_for(process, log, ready, seconds, what):
    """Polls `ready()` until it is true (its value returned); the log if the server stops."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = ready()
        if found:
            return found
        if process.poll() is not None:
            log.seek(0)
            raise SystemExit("dw serve stopped:\n" + log.read())
        time.sleep(0.3)
    process.kill()
    raise SystemExit(f"dw serve did not {what} in time")


def start_demo(dw, folder):
    """The demo's first start; returns the process, the base URL and the demo user's password,
    read off the banner."""
    port = free_port()
    process, log = serve(dw, folder, port, "serve.log")

    def password():
        log.seek(0)
        found = re.search(r"user demo, password (\S+),", log.read())
        return found and found.group(1)

    return process, f"http://127.0.0.1:{port}", wait_for(
        process, log, password, 180, "print the demo user")


def restart(dw, folder, base):
    """`dw serve --demo` again at `base` on the demo's store; returns the process."""
    process, log = serve(dw, folder, int(base.rsplit(":", 1)[1]), "serve-again.log")

    def healthy():
        try:
            urllib.request.urlopen(base + "/healthz")
            return True
        except OSError:
            return False

    wait_for(process, log, healthy, 60, "start")
    return process


HOSTILE_NAME = "<img src=x onerror=alert(1)>"


def stop(process):
    process.terminate()
    process.wait(timeout=30)


def name_a_device_hostile(folder):
    """Renames the non-compliant device synced last in the demo's store (a throwaway one) to
    markup, as an attacker who names their device would: the site must show it as text."""
    db = sqlite3.connect(os.path.join(folder, "dw-data", "warehouse.db"))
    with db:
        db.execute(
            """UPDATE devices SET deviceName = ? WHERE deviceKey = (
                 SELECT d.deviceKey FROM devices d JOIN complianceStates c
                   ON c._tenant = d._tenant AND c.complianceStateKey = d.complianceStateKey
                 WHERE c.complianceStatus = 'Noncompliant' AND d.isDeleted = 0
                 ORDER BY d.lastSyncDateTime DESC LIMIT 1)""",
            (HOSTILE_NAME,),
        )
    db.close()


def api_token(dw, folder, base):
    out = subprocess.run(
        [dw, "token", "--client", "demo-client", "--public-url", base],
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def api(base, token, path):
    request = urllib.request.Request(
        base + SERVICE + path, headers={"Authorization": "Bearer " + token}
    )
    with urllib.request.urlopen(request) as r:
        return json.load(r)


def quote(path):
    return urllib.parse.quote(path, safe="/?&=$(),'")


def main():
    dw, screenshots = sys.argv[1], sys.argv[2]
    os.makedirs(screenshots, exist_ok=True)
    checks = 0
    with tempfile.TemporaryDirectory() as folder:
        # the demo's first start creates its tenant; a device is then renamed, and the
        # service started again on the same store
        process, base, password = start_demo(dw, folder)
        stop(process)
        name_a_device_hostile(folder)
        process = restart(dw, folder, base)
        try:
            token = api_token(dw, folder, base)
            groups = api(
                base,
                token,
                quote(
                    "/devices?api-version=v1.0&$apply=filter(isDeleted eq false)"
                    "/groupby((complianceState/complianceStatus),aggregate($count as devices))"
                ),
            )["value"]
            by_state = {
                (g.get("complianceState") or {}).get("complianceStatus") or "Unknown": g["devices"]
                for g in groups
            }
            expected = {
                "compliant": by_state.get("Compliant", 0) + by_state.get("InGracePeriod", 0),
                "noncompliant": by_state.get("Noncompliant", 0) + by_state.get("Unknown", 0),
                "total": sum(by_state.values()),
            }
            total = int(
                urllib.request.urlopen(
                    urllib.request.Request(
                        base
                        + SERVICE
                        + quote("/devices/$count?api-version=v1.0&$filter=isDeleted eq false"),
                        headers={"Authorization": "Bearer " + token},
                    )
                ).read()
            )
            assert expected["total"] == total, (expected, total)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(accept_downloads=True)
                errors, foreign, dialogs = [], [], []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                page.on("console", lambda m: m.type == "error" and errors.append(m.text))
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on(
                    "request",
                    lambda r: None if r.url.startswith(base) or r.url.startswith(("blob:", "data:"))
                    else foreign.append(r.url),
                )
                # the site sends a newcomer to the sign-in page, keeping the page asked for
                page.goto(base + "/reports/#compliance")
                page.wait_for_url(re.compile(r".*/oauth2/authorize\?.*"))
                page.screenshot(path=os.path.join(screenshots, "sign-in.png"), full_page=True)
                # the sign-in page names the product and the tenant, with the site's look
                text = page.locator("body").inner_text()
                assert "Device Warehouse" in text and "demo" in text, text
                assert page.locator('link[href="/reports/app.css"]').count() == 1
                page.get_by_label("User name").fill("demo")
                page.get_by_label("Password").fill(password)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_selector("#totals:not([hidden])", timeout=30000)
                # back on the page asked for, no code left in the address bar
                assert page.url == base + "/reports/#compliance", page.url
                shown = {
                    k: int(page.get_by_test_id(k).inner_text().replace(",", ""))
                    for k in expected
                }
                assert shown == expected, (shown, expected)
                checks += 1
                rows = page.locator("#states tr").count()
                assert rows == len(by_state), (rows, by_state)
                # the CSV download holds the same rows
                with page.expect_download() as download:
                    page.get_by_role("link", name="Download CSV").click()
                with open(download.value.path(), encoding="utf-8", newline="") as f:
                    csv = f.read()
                lines = csv.strip().split("\r\n")
                assert lines[0] == '"complianceStatus","devices"', lines
                assert len(lines) == len(by_state) + 1, lines
                page.wait_for_selector("#noncompliant-devices:not([hidden])")
                # a device named with markup is shown as that text, and nothing runs
                first = page.locator("#devices tr").first.locator("td").first
                assert first.inner_text() == HOSTILE_NAME, first.inner_text()
                assert page.locator("#devices img").count() == 0
                assert not dialogs, dialogs
                # the site's security headers
                headers = urllib.request.urlopen(base + "/reports/").headers
                policy = headers["Content-Security-Policy"]
                for directive in ["script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"]:
                    assert directive in policy, policy
                assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy
                assert headers["X-Content-Type-Options"] == "nosniff"
                assert headers["Referrer-Policy"] == "no-referrer"
                page.screenshot(
                    path=os.path.join(screenshots, "compliance-overview.png"), full_page=True
                )
                # signing out forgets the token
                page.get_by_role("button", name="Sign out").click()
                assert page.locator("#totals").is_hidden()
                assert not errors, errors
                assert not foreign, foreign
                checks += 1
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    return checks


if __name__ == "__main__":
    # a summary line in the form of cargo's, so that the suite's total counts it
    try:
        passed = main()
    except BaseException:
        print("test result: FAILED. 0 passed; 1 failed; 0 ignored; (the reports site in Chromium)")
        raise
    print(
        f"test result: ok. {passed} passed; 0 failed; 0 ignored; (the reports site in Chromium, "
        f"screenshots in {sys.argv[2]})"
    )

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


def restart(dw, folder, base):
    """`dw serve --demo` again at `base` on the demo's store (which it reuses); returns the
    process."""
    port = int(base.rsplit(":", 1)[1])
    log = open(os.path.join(folder, "serve-again.log"), "w+")
    process = subprocess.Popen(
        [dw, "serve", "--demo", "--listen", f"127.0.0.1:{port}"],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz")
            return process
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                raise SystemExit("dw serve stopped:\n" + log.read())
            time.sleep(0.3)
    process.kill()
    raise SystemExit("dw serve did not start in time")


def start_demo(dw, folder):
    """`dw serve --demo` in `folder`; returns the process, the base URL and the demo user's
    password, read off the banner."""
    port = free_port()
    log = open(os.path.join(folder, "serve.log"), "w+")
    process = subprocess.Popen(
        [dw, "serve", "--demo", "--listen", f"127.0.0.1:{port}"],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        log.seek(0)
        text = log.read()
        found = re.search(r"user demo, password (\S+),", text)
        if found:
            return process, base, found.group(1)
        if process.poll() is not None:
            raise SystemExit("dw serve --demo stopped:\n" + text)
        time.sleep(0.5)
    process.kill()
    raise SystemExit("dw serve --demo did not print the demo user in time")


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
                page = browser.new_page()
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

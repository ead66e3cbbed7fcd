"""Signs in to a running `dw serve` with Microsoft's MSAL for Python and Azure.Identity for
Python, as a user's script would.

Driven by crates/dw/tests/msal.rs, which starts the server over TLS with a throwaway CA and
passes everything through the environment:

  DW_BASE              https://127.0.0.1:PORT (the service's base URL)
  DW_TENANT            the tenant whose clients and user sign in
  DW_CA                the CA certificate (PEM) the service's certificate is signed by
  DW_CONFIDENTIAL_ID   a confidential client and its secret (client credentials)
  DW_CONFIDENTIAL_SECRET
  DW_PUBLIC_ID         a public client with the redirect URI http://localhost (authorization code)
  DW_USER, DW_PASSWORD a user of the tenant

Prints one JSON object with what each flow got; exits non-zero with MSAL's error otherwise.
"""

import base64
import html.parser
import json
import os
import sys
import urllib.parse

import msal
import requests

BASE = os.environ["DW_BASE"]
TENANT = os.environ["DW_TENANT"]
CA = os.environ["DW_CA"]
SCOPE = [BASE + "/.default"]
API = BASE + "/ReportingService/DataWarehouseFEService"


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def token_of(result, flow):
    if "access_token" not in result:
        sys.exit("%s failed: %s" % (flow, json.dumps(result)))
    return result["access_token"]


def device_count(token):
    r = requests.get(
        API + "/devices/$count",
        params={"api-version": "v1.0"},
        headers={"Authorization": "Bearer " + token},
        verify=CA,
        timeout=30,
    )
    return r.status_code, r.text


def summary(token, **extra):
    c = claims(token)
    status, body = device_count(token)
    out = {"iss": c["iss"], "aud": c["aud"], "tid": c["tid"], "status": status, "count": body}
    out.update(extra)
    return out


def azure_identity():
    # Azure.Identity builds the authority from a host and a tenant, as for Entra ID.
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        TENANT,
        os.environ["DW_CONFIDENTIAL_ID"],
        os.environ["DW_CONFIDENTIAL_SECRET"],
        authority=BASE,
        disable_instance_discovery=True,
        connection_verify=CA,
    )
    return summary(credential.get_token(SCOPE[0]).token)


def client_credentials(**authority):
    app = msal.ConfidentialClientApplication(
        os.environ["DW_CONFIDENTIAL_ID"],
        client_credential=os.environ["DW_CONFIDENTIAL_SECRET"],
        verify=CA,
        **authority,
    )
    first = app.acquire_token_for_client(scopes=SCOPE)
    again = app.acquire_token_for_client(scopes=SCOPE)
    return summary(
        token_of(first, "client credentials"),
        roles=claims(first["access_token"]).get("roles"),
        second_from_cache=again.get("token_source") == "cache",
    )


class SignInForm(html.parser.HTMLParser):
    """The sign-in page's form: its action and hidden fields."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        if tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")


def authorization_code():
    app = msal.PublicClientApplication(
        os.environ["DW_PUBLIC_ID"],
        authority=BASE + "/" + TENANT,
        instance_discovery=False,
        verify=CA,
    )
    user = os.environ["DW_USER"]
    # The port of a native application's loopback listener is chosen at run time.
    flow = app.initiate_auth_code_flow(
        scopes=SCOPE, redirect_uri="http://localhost:53123", login_hint=user
    )
    # What the browser does: show the sign-in page, post the form, follow the redirect.
    browser = requests.Session()
    page = browser.get(flow["auth_uri"], verify=CA, timeout=30)
    page.raise_for_status()
    form = SignInForm()
    form.feed(page.text)
    fields = dict(form.fields, username=user, password=os.environ["DW_PASSWORD"])
    posted = browser.post(
        urllib.parse.urljoin(page.url, form.action),
        data=fields,
        verify=CA,
        allow_redirects=False,
        timeout=30,
    )
    location = posted.headers.get("location", "")
    if not location.startswith("http://localhost:53123"):
        sys.exit("sign-in did not redirect back: %s %s" % (posted.status_code, posted.text))
    auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    token = token_of(result, "authorization code")
    accounts = app.get_accounts()
    silent = app.acquire_token_silent(SCOPE, account=accounts[0]) if accounts else None
    return summary(
        token,
        scp=claims(token).get("scp"),
        id_token_user=result.get("id_token_claims", {}).get("preferred_username"),
        accounts=[a["username"] for a in accounts],
        silent_from_cache=bool(silent) and silent.get("token_source") == "cache",
    )


print(
    json.dumps(
        {
            "msal_version": msal.__version__,
            "authority": client_credentials(
                authority=BASE + "/" + TENANT, instance_discovery=False
            ),
            "oidc_authority": client_credentials(oidc_authority=BASE + "/" + TENANT + "/v2.0"),
            "authorization_code": authorization_code(),
            "azure_identity": azure_identity(),
        }
    )
)

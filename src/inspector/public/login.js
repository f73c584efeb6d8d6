// The operators' sign-in of the inspector (served in place of the page when
// a request carries no operator token): keeps the token in the cookie the
// server reads for the page (path-scoped, so RPCs never carry it; the page
// sends it as a bearer token itself) and reloads.
const secure = location.protocol === "https:" ? "; Secure" : "";
const keep = (token, extra = "") => (document.cookie = `cairn_inspector_token=${encodeURIComponent(token)}; Path=/__/cairn/; SameSite=Strict${secure}${extra}`);

// This form is served only when the page was refused: a token already in
// the cookie is one the server did not take. Say so, and forget it.
if (document.cookie.split(";").some((part) => part.trim().startsWith("cairn_inspector_token="))) {
  document.getElementById("refused").hidden = false;
  keep("", "; Max-Age=0");
}

document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  keep(document.getElementById("token").value.trim());
  location.reload();
});

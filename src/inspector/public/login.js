// The operators' sign-in of the inspector (served in place of the page when
// a request carries no operator token): keeps the token in the cookie the
// server reads for the page (path-scoped, so RPCs never carry it; the page
// sends it as a bearer token itself) and reloads.
document.getElementById("login").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = document.getElementById("token").value.trim();
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `cairn_inspector_token=${encodeURIComponent(token)}; Path=/__/cairn/; SameSite=Strict${secure}`;
  location.reload();
});

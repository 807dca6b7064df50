/**
 * JWKS URIs as they may be shown: in logs, metrics events, the admin snapshot view, statuses and
 * summaries. A URI can carry secrets in its userinfo (refused at compile time, but a manifest still
 * holds it), its query (`?api_key=…`, which some providers need) and its fragment.
 */

/**
 * The URI with userinfo replaced by "redacted@", every query parameter's value by "redacted" (names
 * kept, so the URI stays recognisable) and a fragment by "#redacted". Text that is not a URL comes
 * back as "(not a URL)": it cannot be redacted piece by piece.
 */
export function redactUri(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "(not a URL)";
  }
  const userinfo = url.username !== "" || url.password !== "" ? "redacted@" : "";
  const query =
    url.search === ""
      ? ""
      : `?${url.search
          .slice(1)
          .split("&")
          .map((pair) => {
            const eq = pair.indexOf("=");
            return eq === -1 || eq === pair.length - 1 ? pair : `${pair.slice(0, eq)}=redacted`;
          })
          .join("&")}`;
  const fragment = url.hash === "" ? "" : "#redacted";
  return `${url.protocol}//${userinfo}${url.host}${url.pathname}${query}${fragment}`;
}

// The one form of a time the browser writes: UTC to the second, as
// intake.envelope.utc_now writes it ("2026-12-01T03:28:08Z"), in envelope
// headers, records and the queue alike.

/** Now, in UTC, to the second. */
export function utcNow() {
  return new Date().toISOString().slice(0, 19) + "Z";
}

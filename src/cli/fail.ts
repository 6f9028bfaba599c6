/** A CLI failure: printed as one line, exit code 1 (or the given code). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A server's answer as JSON; anything else means `url` is not a purposegate server (or not this path of one). */
export async function jsonAnswer(res: Response, url: string): Promise<unknown> {
  const text = await res.text().catch(() => '');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`${url} did not answer as a purposegate server (HTTP ${res.status}, ${res.headers.get('content-type') ?? 'no content type'}, not JSON).`);
  }
}

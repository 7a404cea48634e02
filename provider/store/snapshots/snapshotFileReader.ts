import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Tokenizer, TokenizerError, TokenParser, TokenParserError, TokenType } from "@streamparser/json";
import { InvalidInputError } from "../../core/errors.js";

/** What one read of a snapshot file hands on, record by record, in file order. */
export interface SnapshotRecords {
  subnet?(raw: unknown, index: number): void;
  /** `top` is the top-level object so far (the keys it has met, `subnets` among them once that array began). */
  allocation?(raw: unknown, index: number, top: unknown): void;
  /** Awaited after each chunk of the file: where a consumer writes what it was handed (backpressure). */
  drain?(): Promise<void>;
}

export interface SnapshotFileRead {
  /** The top-level value, its `subnets` and `allocations` arrays emptied (their items were handed on). */
  readonly top: unknown;
  /** SHA-256 of the bytes read: a second read must see the same file. */
  readonly digest: string;
  readonly bytes: number;
}

/** Bytes per read: records are handed on a chunk at a time, so this bounds what waits in `drain`. */
const CHUNK_BYTES = 1 << 20;

/**
 * Read a snapshot file with a streaming JSON parser (@streamparser/json): each item of the
 * top-level `subnets` and `allocations` arrays is handed on as it ends and then dropped, so memory
 * holds one chunk and one record, not the file (issue 25: the whole-file parse of 1M allocations
 * peaked at 1.7 GiB). `name` is how errors name the file.
 * @throws InvalidInputError (field `file`) when the file cannot be read or is not JSON (with where it stops)
 */
export async function readSnapshotFile(path: string, name: string, records: SnapshotRecords): Promise<SnapshotFileRead> {
  const tokenizer = new Tokenizer();
  const parser = new TokenParser({ paths: ["$.subnets.*", "$.allocations.*"], keepStack: false });
  const top = new TopLevel();
  let offset = 0;
  tokenizer.onToken = (token) => {
    offset = token.offset;
    parser.write(token);
    top.see(token.token, token.value, name);
  };
  parser.onValue = ({ value, key, parent, stack }) => {
    // Members of a `subnets` that is an object match the paths too: only an array's items are records.
    if (!Array.isArray(parent)) return;
    const section = stack[1]?.key;
    if (section === "subnets") records.subnet?.(value, key as number);
    else if (section === "allocations") records.allocation?.(value, key as number, top.value);
  };
  const hash = createHash("sha256");
  let bytes = 0;
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      try {
        tokenizer.write(chunk);
      } catch (error) {
        throw notJson(name, error, offset);
      }
      await records.drain?.();
    }
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    throw InvalidInputError.of("file", `cannot read ${name}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  } finally {
    stream.destroy();
  }
  // The parser ends itself with the top-level value; anything short of that is a cut file.
  if (!parser.isEnded) throw InvalidInputError.of("file", `${name} is not JSON: Unexpected end of JSON input`);
  return { top: top.value, digest: hash.digest("hex"), bytes };
}

function notJson(name: string, error: unknown, offset: number): unknown {
  if (error instanceof TokenizerError) return InvalidInputError.of("file", `${name} is not JSON: ${error.message}`);
  if (error instanceof TokenParserError) return InvalidInputError.of("file", `${name} is not JSON: ${error.message} at position ${offset}`);
  return error;
}

/**
 * The top level as the schema needs it, built from the tokens (the parser drops what it hands on,
 * and with it the top-level object's members): each key in file order with its scalar value, or for
 * an object or array an empty one of that kind (the top-level schema's verdict on `subnets`,
 * `allocations` or an unknown key depends only on that). Tokens come here after the parser took
 * them, so they are in a valid order.
 */
class TopLevel {
  value: unknown = undefined;
  private depth = 0;
  private key: string | null = null;
  private valueNext = false;

  see(token: TokenType, value: unknown, name: string): void {
    const opens = token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET;
    const empty = () => (token === TokenType.LEFT_BRACE ? {} : []);
    if (this.depth === 0 && this.value === undefined) {
      this.value = opens ? empty() : value;
    } else if (this.depth === 1 && !Array.isArray(this.value)) {
      const members = this.value as Record<string, unknown>;
      if (this.valueNext) {
        this.valueNext = false;
        // JSON.parse would keep the last of two values; a streamed read has handed on the first already.
        if (Object.hasOwn(members, this.key!)) throw InvalidInputError.of("file", `${name} holds the top-level key ${JSON.stringify(this.key)} twice`);
        members[this.key!] = opens ? empty() : value;
      } else if (token === TokenType.STRING) {
        this.key = value as string;
      } else if (token === TokenType.COLON) {
        this.valueNext = true;
      }
    }
    if (opens) this.depth += 1;
    else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) this.depth -= 1;
  }
}

import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from "node:crypto";

/**
 * Secrets as the engine carries them. A program (the monitor advertises the "secrets" feature) sends
 * a secret as `{ [SECRET_SIG]: SECRET_VALUE, value }` (sdk/nodejs/runtime/rpc.ts, `specialSigKey`,
 * `specialSecretSig`); the engine keeps that wrapper in memory, strips it before a provider that does
 * not accept secrets, re-marks the provider's answers (provider_plugin.go, `annotateSecrets`), and the
 * backend stores each secret as `{ [SECRET_SIG]: SECRET_VALUE, ciphertext }` (pkg/resource/stack/
 * deployment.go, `SerializePropertyValue`), so no secret value is ever plaintext in a checkpoint.
 */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

type Props = Record<string, unknown>;
export interface Secret {
  [SECRET_SIG]: typeof SECRET_VALUE;
  value: unknown;
}

const isObject = (v: unknown): v is Props => v !== null && typeof v === "object" && !Array.isArray(v);

export function isSecret(v: unknown): v is Secret {
  return isObject(v) && v[SECRET_SIG] === SECRET_VALUE && "value" in v;
}

export function makeSecret(v: unknown): Secret {
  return isSecret(v) ? v : { [SECRET_SIG]: SECRET_VALUE, value: v };
}

/** resource.PropertyValue.ContainsSecrets. */
export function containsSecrets(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecrets);
  if (isObject(v)) return Object.values(v).some(containsSecrets);
  return false;
}

/**
 * What a provider that answered Configure with `acceptSecrets: false` receives: plain values
 * (provider_plugin.go, MarshalProperties with `KeepSecrets: protocol.acceptSecrets`; removeSecrets).
 */
export function stripSecrets<T>(v: T): T {
  if (isSecret(v)) return stripSecrets(v.value) as T;
  if (Array.isArray(v)) return v.map(stripSecrets) as T;
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stripSecrets(x)])) as T;
  return v;
}

/**
 * provider_plugin.go `annotateSecrets(outs, ins)`: an output key whose name matches an input key is
 * made secret when the input contains a secret; where both are objects it recurses instead. Nothing
 * else is marked: a copy of an input under another key stays plain.
 */
export function annotateSecrets(outs: Props, ins: Props): void {
  for (const [key, inValue] of Object.entries(ins)) {
    if (!(key in outs)) continue;
    const outValue = outs[key];
    if (isObject(outValue) && !isSecret(outValue) && isObject(inValue) && !isSecret(inValue)) annotateSecrets(outValue, inValue);
    else if (!isSecret(outValue) && containsSecrets(inValue)) outs[key] = makeSecret(outValue);
  }
}

/** step_executor.go (after a step applies): each `additionalSecretOutputs` key present in the outputs is made secret. */
export function markAdditionalSecretOutputs(outputs: Props, keys: readonly string[] | undefined): Props {
  if (keys === undefined || keys.length === 0) return outputs;
  const out = { ...outputs };
  for (const k of keys) if (k !== "id" && k in out && !isSecret(out[k])) out[k] = makeSecret(out[k]);
  return out;
}

/** The stored form of a secret (apitype.SecretV1 with `ciphertext`). */
export interface StoredSecret {
  [SECRET_SIG]: typeof SECRET_VALUE;
  ciphertext: string;
}

/**
 * The passphrase secrets manager (pkg/secrets/passphrase/manager.go; sdk/go/common/resource/config/
 * crypt.go, `NewSymmetricCrypterFromPassphrase`, `symmetricCrypter.EncryptValue`): AES-256-GCM with a
 * key derived by PBKDF2-SHA256 from the passphrase and the stack's salt, stored as
 * `v1:<base64 nonce>:<base64 ciphertext>`. The backend runs 1,000,000 PBKDF2 iterations; this model
 * runs fewer (tests open many stacks), which changes how slow a guess is, not what the file holds.
 */
const ITERATIONS = 10_000;
const keys = new Map<string, Buffer>();

export class Crypter {
  /** Ciphertext per in-memory secret: a secret is encrypted once, not on every checkpoint write (the backend's caching crypter). */
  private readonly cache = new WeakMap<object, string>();

  private constructor(
    private readonly key: Buffer,
    /** The `secrets_providers` state a checkpoint records. */
    readonly state: { salt: string },
  ) {}

  static create(passphrase: string): Crypter {
    const salt = randomBytes(8);
    const crypter = new Crypter(keyOf(passphrase, salt), { salt: "" });
    crypter.state.salt = `v1:${salt.toString("base64")}:${crypter.encrypt("pulumi")}`;
    return crypter;
  }

  /** @throws when the passphrase does not open this stack's salt (the CLI's "incorrect passphrase"). */
  static open(passphrase: string, state: { salt: string }): Crypter {
    const [, salt = "", ...check] = state.salt.split(":");
    const crypter = new Crypter(keyOf(passphrase, Buffer.from(salt, "base64")), state);
    let opened: string | undefined;
    try {
      opened = crypter.decrypt(check.join(":"));
    } catch {
      opened = undefined;
    }
    if (opened !== "pulumi") throw new Error("incorrect passphrase");
    return crypter;
  }

  encrypt(plaintext: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `v1:${nonce.toString("base64")}:${body.toString("base64")}`;
  }

  decrypt(ciphertext: string): string {
    const [version, nonce, body] = ciphertext.split(":");
    if (version !== "v1" || nonce === undefined || body === undefined) throw new Error("bad value: malformed ciphertext");
    const bytes = Buffer.from(body, "base64");
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(nonce, "base64"));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString("utf8");
  }

  /** deployment.go `SerializePropertyValue`: every secret becomes `{ sig, ciphertext }` of its JSON value. */
  seal(v: unknown): unknown {
    if (isSecret(v)) {
      let ciphertext = this.cache.get(v as object);
      if (ciphertext === undefined) {
        ciphertext = this.encrypt(JSON.stringify(stripSecrets(v.value)));
        this.cache.set(v as object, ciphertext);
      }
      return { [SECRET_SIG]: SECRET_VALUE, ciphertext } satisfies StoredSecret;
    }
    if (Array.isArray(v)) return v.map((x) => this.seal(x));
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.seal(x)]));
    return v;
  }

  /** deployment.go `DeserializePropertyValue`: `{ sig, ciphertext }` back to the in-memory secret. */
  open(v: unknown): unknown {
    if (isObject(v) && v[SECRET_SIG] === SECRET_VALUE && typeof v.ciphertext === "string") {
      const secret = makeSecret(JSON.parse(this.decrypt(v.ciphertext)));
      this.cache.set(secret, v.ciphertext);
      return secret;
    }
    if (Array.isArray(v)) return v.map((x) => this.open(x));
    if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.open(x)]));
    return v;
  }
}

function keyOf(passphrase: string, salt: Buffer): Buffer {
  const id = `${salt.toString("base64")}\u0000${passphrase}`;
  let key = keys.get(id);
  if (key === undefined) {
    key = pbkdf2Sync(passphrase, salt, ITERATIONS, 32, "sha256");
    keys.set(id, key);
  }
  return key;
}

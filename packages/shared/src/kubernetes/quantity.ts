// Kubernetes resource quantities (`500m`, `1.5`, `64Mi`, `1G`, `1e3`) as plain numbers, for
// limits from pod specs: memory in bytes, CPU in cores. Something that is not a quantity is
// null, never a guess.

const SUFFIX_FACTORS: Readonly<Record<string, number>> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** The quantity's value in base units (bytes, cores), or null when `text` is not a quantity. */
export function parseQuantity(text: unknown): number | null {
  if (typeof text !== "string") return null;
  const match = QUANTITY.exec(text.trim());
  if (!match) return null;
  const [, mantissa = "", exponent, suffix = ""] = match;
  const value =
    exponent === undefined
      ? Number(mantissa) * (SUFFIX_FACTORS[suffix] ?? Number.NaN)
      : Number(mantissa + exponent);
  return Number.isFinite(value) ? value : null;
}

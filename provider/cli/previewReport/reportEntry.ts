import type { Cidr } from "../../core/address.js";
import { isPredictedFailure, type PredictedFailure, type Taken } from "../../core/addressForecast.js";
import type { AddressHolder } from "../../core/subnetEditForecast.js";
import type { Kind } from "./ipamSteps.js";
import type { SubnetChange } from "./subnetChange.js";

/** What `ipam preview-report` prints (as JSON with --json): one entry per IPAM step, subnets, failures. */

export const PREDICTION_NOTE =
  "Predictions, if the plan were applied now: another stack or the CLI may take or free addresses before `pulumi up` runs.";

export interface ReportFailure {
  readonly resource: string;
  readonly code: string;
  readonly message: string;
}

export interface ReportEntry {
  readonly resource: string;
  readonly kind: Kind;
  readonly op: string;
  subnet: string | null;
  /** A subnet step: its CIDR (predicted for a carved child). */
  cidr?: string;
  released: string[];
  taken: string[];
  /** Addresses taken at random: how many (which ones is the CSPRNG's choice). */
  random: number;
  /** Kept: claimed back by a replacement, or adopted. */
  kept: string[];
  outsidePools: AddressHolder[];
  /** A subnet edit: addresses in hold-down that it makes unallocatable, whose holds are dropped. */
  holdsDropped?: string[];
  notes: string[];
  failure?: { code: string; message: string };
}

export interface PreviewReport {
  readonly prediction: string;
  readonly entries: readonly ReportEntry[];
  readonly subnets: readonly SubnetChange[];
  readonly failures: readonly ReportFailure[];
}

export function fail(entry: ReportEntry, code: string, message: string): void {
  entry.failure ??= { code, message };
}

export function record(entry: ReportEntry, result: Taken | PredictedFailure | Cidr): void {
  if (isPredictedFailure(result)) return fail(entry, result.code, failureMessage(result));
  if ("addresses" in result) entry.taken.push(...result.addresses);
  else if ("random" in result) entry.random += result.random;
}

export function failureMessage(f: PredictedFailure): string {
  switch (f.code) {
    case "SUBNET_EXHAUSTED":
      return "prefixLength" in f ? `no free /${f.prefixLength} block left in ${f.subnet}` : `${f.subnet} has ${f.free} free address(es); ${f.wanted} needed`;
    case "ADDRESS_IN_USE":
      return `${f.address} in ${f.subnet} is held by ${f.holder}`;
    case "ADDRESS_HELD":
      return `${f.address} in ${f.subnet} was released by ${f.releasedBy} and is in hold-down for ${f.secondsLeft} s more (releaseHoldSeconds): only its releaser may take it back until then`;
    case "INVALID_INPUT":
      return `${f.subnet} hands out child subnets only`;
  }
}

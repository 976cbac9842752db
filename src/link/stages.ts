/**
 * The frame stages a session's FLAGS ask for, in vtund's module order:
 * compression first, then encryption (the shaper is part of the link).
 */
import { createCipherStage } from "../crypto/cipher_stage.ts";
import { createCompressStage } from "../compress/stage.ts";
import type { SessionFlags } from "../protocol/flags.ts";
import type { FrameStage } from "./pipeline.ts";

/** The stages for `flags`; throws a clear Error if one cannot be set up. */
export function buildStages(flags: SessionFlags, password: string): FrameStage[] {
  const stages: FrameStage[] = [];
  if (flags.compress !== null) stages.push(createCompressStage(flags.compress));
  if (flags.encrypt !== null) stages.push(createCipherStage(flags.encrypt, password));
  return stages;
}

/** "zlib:9, aes128cbc" — for the session-opened log line. */
export function describeStages(stages: readonly FrameStage[]): string {
  return stages.map((s) => s.name).join(", ");
}


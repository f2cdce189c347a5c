/**
 * Bounds that the schema and the control layer share, so a value the schema
 * accepts is one the control layer will command, and no other.
 */

/** Lowest sample rate of a stimulus set, kHz: the "≥ 50 kHz" (efeatures-nwb.md, MIES default). */
export const MIN_STIMULUS_SAMPLE_RATE_KHZ = 50;

/** Largest current-clamp bias a stimulus set may hold and the control layer will apply, pA. */
export const MAX_BIAS_PA = 1000;

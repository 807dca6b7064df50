/** Gateway API Duration (GEP-2257), shared by every schema that takes one. */
import { z } from "zod";

/** Gateway API Duration: 1 to 4 groups of up to 5 digits with h, m, s or ms. */
export const GatewayDurationSchema = z.string().regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/, "not a Gateway API duration such as 300s or 1h30m");

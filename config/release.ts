/** The release keys: the version (image tag) to serve, its digest, and whether a run declares only the release. */
import { z } from "zod";
import { hostPatterns } from "./patterns";

const { version: imageTag, digest: imageDigest } = hostPatterns;

/** Plain scalar keys. */
export const releaseKeys = {
    version: z
        .string()
        .regex(imageTag, { error: "must be an image tag such as 1.4.2 (letters, digits, . _ - only)" })
        .optional(),
    digest: z
        .string()
        .regex(imageDigest, { error: "must be a digest such as sha256:<64 hex digits>" })
        .optional(),
    /**
     * "true" in the CD workflows' `pulumi up`: the program declares only the release (no GitHub
     * objects, no GitHub API call), and the up targets it, so no GitHub credential is needed.
     */
    releaseOnly: z
        .enum(["true", "false"], { error: 'must be "true" or "false"' })
        .optional()
        .transform((v) => v === "true"),
} as const;

/** The workflows section: what the rendered workflow files build, test and lint in the app repository. */
import { z } from "zod";
import { relativePath } from "./patterns";

/** A relative path in the app repository, `example` when absent. */
const relativePathOr = (example: string) =>
    z
        .string()
        .regex(relativePath, { error: `must be a relative path such as ${example}` })
        .default(example);

export const workflowsSchema = z
    .strictObject({
        pythonVersion: z
            .string()
            .regex(/^3\.[0-9]{1,2}$/, { error: 'must be a Python version such as "3.12"' })
            .default("3.12"),
        sourceDir: relativePathOr("app"),
        testDir: relativePathOr("tests"),
        coverageThreshold: z.number().int().min(0).max(100).default(80),
        pulumiDir: relativePathOr("infra"),
        dockerfile: relativePathOr("Dockerfile"),
        requirements: z
            .array(
                z.string().regex(relativePath, {
                    error: "must be a relative path to a pip requirements file, such as requirements-dev.txt",
                }),
            )
            .min(1, { error: "must list at least one requirements file, such as requirements-dev.txt" })
            .default(["requirements.txt", "requirements-dev.txt"]),
        // Explicit so that the rendered files do not depend on which secrets happen to be set.
        slack: z
            .boolean({ error: "must be true or false: whether the workflows notify Slack" })
            .default(false),
    })
    // Every field has its default, so an absent object takes them all.
    .prefault({});

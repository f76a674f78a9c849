/**
 * Digest lookups (components/deploy/registry.ts) against the rig's real registry (Debian's
 * docker-registry on 127.0.0.1:5555): the digest found for a pushed tag is the one Docker Engine
 * reports for the image it pushed, so the hosts pull exactly what was resolved.
 */
import * as assert from "assert";
import { resolveDigest } from "../../components/deploy/registry";
import { requireRig, Rig, run } from "../../testkit/rig";

describe("digest lookup in the rig's registry (integration)", function () {
    this.timeout(120_000);
    let rig: Rig;

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
    });

    it("resolves every pushed test version to the digest Docker Engine reports for it", async () => {
        for (const version of Object.keys(rig.appDigests)) {
            const inspected = await run("docker", [
                "image",
                "inspect",
                "--format",
                "{{range .RepoDigests}}{{println .}}{{end}}",
                `${rig.appImage}:${version}`,
            ]);
            assert.strictEqual(inspected.code, 0, inspected.stderr);
            const reported = inspected.stdout
                .split("\n")
                .find((d) => d.startsWith(`${rig.appImage}@`))
                ?.split("@")[1];
            assert.ok(reported, `docker reports no digest for ${rig.appImage}:${version}`);
            assert.strictEqual(await resolveDigest(rig.appImage, version), reported, version);
        }
    });

    it("resolves the rig's proxy image to the digest the local stack pins", async () => {
        const [repository, digest] = rig.proxyImage.split("@");
        assert.strictEqual(await resolveDigest(repository, "2.6"), digest);
    });

    it("a tag the registry does not have fails with the reference and the fix", async () => {
        await assert.rejects(
            resolveDigest(rig.appImage, "0.0.0-never-pushed"),
            /cannot resolve 127\.0\.0\.1:5555\/bluegreen-test\/app:0\.0\.0-never-pushed .*\(404\)/,
        );
    });
});

// The browsable API reference at /docs (Swagger UI) on a live node: the page, every asset it
// loads served by the node itself (nothing from a CDN), and the OpenAPI document it shows —
// which must still be a valid OpenAPI document that does not list the UI's own routes.
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { compileEveryValidator } from '../../src/server/validation.ts';
import { call, type TestCluster, useClusterPerTest } from './cluster-harness.ts';

/** The src and href attributes of a page's script and link tags. */
function assetUrls(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
}

describe('the API reference at /docs', () => {
  const clusterOf = useClusterPerTest();
  const nodeUrl = (cluster: TestCluster): string => cluster.members[1]!.url;

  it('serves an HTML page whose scripts and styles all load from the node', async () => {
    const url = nodeUrl(clusterOf());
    for (const path of ['/docs', '/docs/']) {
      const page = await call(url, 'GET', path);
      expect(page.status, path).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).toContain('<div id="swagger-ui">');
      expect(page.text).toContain('<title>Concord HTTP API</title>');
      const assets = assetUrls(page.text);
      expect(assets).toEqual(expect.arrayContaining([expect.stringMatching(/swagger-ui-bundle\.js$/), expect.stringMatching(/swagger-ui\.css$/), expect.stringMatching(/swagger-initializer\.js$/)]));
      for (const asset of assets) {
        // Offline: every asset is a path on this node, never another host.
        expect(asset, asset).not.toMatch(/^(https?:)?\/\//);
        const resolved = new URL(asset, `${url}${path}`);
        expect(resolved.origin).toBe(url);
        const answer = await call(url, 'GET', resolved.pathname);
        expect(answer.status, resolved.pathname).toBe(200);
        expect(answer.text.length, resolved.pathname).toBeGreaterThan(0);
      }
    }
  });

  it("compiles every route's request schemas (each is compiled on its first request otherwise)", () => {
    expect(clusterOf().members.length).toBeGreaterThan(0); // the nodes registered their routes
    // Throws on the first schema Ajv refuses; nodes skip this at start (src/server/validation.ts).
    expect(compileEveryValidator()).toBeGreaterThan(50);
    expect(compileEveryValidator()).toBe(0);
  });

  it('points the UI at this node\'s document, with no online validator', async () => {
    const url = nodeUrl(clusterOf());
    const initializer = await call(url, 'GET', '/docs/static/swagger-initializer.js');
    expect(initializer.status).toBe(200);
    expect(initializer.text).toContain("resolveUrl('./json')");
    expect(initializer.text).toMatch(/validatorUrl: null/);
    expect(initializer.text).not.toMatch(/https?:\/\/(?!stackoverflow\.com)/);
    const [shown, served] = await Promise.all([call(url, 'GET', '/docs/json'), call(url, 'GET', '/openapi.json')]);
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual(served.body);
  });

  it('/openapi.json is still a valid OpenAPI 3 document, without the UI routes', async () => {
    const answer = await call(nodeUrl(clusterOf()), 'GET', '/openapi.json');
    expect(answer.status).toBe(200);
    const document = answer.body as { paths: Record<string, unknown> };
    // validate() dereferences in place; give it a copy so the checks below see the document as served.
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/docs'))).toEqual([]);
    expect(document.paths['/v1/kv/{key}']).toBeDefined();
  });
});

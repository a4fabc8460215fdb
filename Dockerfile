# The operator image the Helm chart runs (charts/kube-remediator, values image.*).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
RUN npm run build

# The bundle holds every dependency it reaches (scripts/bundle.mjs), so the image has no
# node_modules; the operator's e2e tests run the bundle the same way, from a directory with only
# package.json and dist/bin (test/support/operator.ts).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/dist/bin ./dist/bin
COPY package.json ./
USER 65532:65532
EXPOSE 8080 9095
# --max-semi-space-size=1 --expose-gc: see src/cli/node-flags.ts.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--expose-gc", "dist/bin/kube-remediator.js"]
CMD ["run"]

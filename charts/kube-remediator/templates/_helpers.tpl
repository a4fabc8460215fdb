{{/* Name of the chart. */}}
{{- define "kube-remediator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-based, at most 63 characters. */}}
{{- define "kube-remediator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kube-remediator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kube-remediator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kube-remediator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kube-remediator.labels" -}}
helm.sh/chart: {{ include "kube-remediator.chart" . }}
{{ include "kube-remediator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "kube-remediator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kube-remediator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kube-remediator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Name of the Secret holding the webhook bearer token, or "" when there is none. */}}
{{- define "kube-remediator.webhookSecretName" -}}
{{- if .Values.webhook.auth.existingSecret }}
{{- .Values.webhook.auth.existingSecret }}
{{- else if .Values.webhook.auth.generateSecret }}
{{- printf "%s-webhook" (include "kube-remediator.fullname" .) }}
{{- end }}
{{- end }}

{{- define "kube-remediator.webhookTlsSecretName" -}}
{{- if .Values.webhook.tls.secretName }}
{{- .Values.webhook.tls.secretName }}
{{- else }}
{{- printf "%s-webhook-tls" (include "kube-remediator.fullname" .) }}
{{- end }}
{{- end }}

{{/* One env var from a URL value or a Secret key: (dict "name" ENV "cfg" .Values.x "what" "...") */}}
{{- define "kube-remediator.urlEnv" -}}
{{- if .cfg.existingSecret }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .cfg.existingSecret }}
      key: {{ .cfg.key | default "url" }}
{{- else }}
- name: {{ .name }}
  value: {{ required (printf "%s needs %s.url or %s.existingSecret" .when .what .what) .cfg.url | quote }}
{{- end }}
{{- end }}

{{/* Checks on values that would otherwise make the operator refuse to start. */}}
{{- define "kube-remediator.validate" -}}
{{- if not (has .Values.store.kind (list "memory" "redis" "postgres")) }}
{{- fail (printf "store.kind must be memory, redis or postgres, got %q" .Values.store.kind) }}
{{- end }}
{{- if and .Values.webhook.enabled (not .Values.webhook.auth.disabled) }}
{{- if not (or (include "kube-remediator.webhookSecretName" .) .Values.webhook.auth.basic.username) }}
{{- fail "webhook authentication is on but no credential is configured: set webhook.auth.existingSecret, webhook.auth.generateSecret=true or webhook.auth.basic, or webhook.auth.disabled=true" }}
{{- end }}
{{- if and .Values.webhook.auth.basic.username (not .Values.webhook.auth.basic.existingSecret) }}
{{- fail "webhook.auth.basic.username needs webhook.auth.basic.existingSecret (the password)" }}
{{- end }}
{{- end }}
{{- if and .Values.webhook.tls.enabled (not .Values.webhook.tls.secretName) (not .Values.webhook.tls.certManager.enabled) }}
{{- fail "webhook.tls.enabled needs webhook.tls.secretName (an existing kubernetes.io/tls Secret) or webhook.tls.certManager.enabled=true" }}
{{- end }}
{{- if and .Values.webhook.tls.certManager.enabled (not .Values.webhook.tls.certManager.issuerRef.name) }}
{{- fail "webhook.tls.certManager.enabled needs webhook.tls.certManager.issuerRef.name (an Issuer or ClusterIssuer of cert-manager)" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true (only one replica may act)" }}
{{- end }}
{{- end }}

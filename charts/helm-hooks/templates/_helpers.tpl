{{/*
Names are fixed (one release per cluster: the webhook configurations are cluster-wide) and equal
deploy/'s, so that the chart and the kustomize base render the same objects.
*/}}

{{/* Labels of every object: deploy/'s two, plus Helm's. */}}
{{- define "helm-hooks.labels" -}}
app.kubernetes.io/name: helm-hooks-webhook
app.kubernetes.io/part-of: helm-hooks
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The Pods' selector (never changes: a Deployment's selector is immutable). */}}
{{- define "helm-hooks.selectorLabels" -}}
app.kubernetes.io/name: helm-hooks-webhook
{{- end }}

{{/* The Service's DNS name, as the apiserver calls it. */}}
{{- define "helm-hooks.serviceHost" -}}
{{ printf "helm-hooks-webhook.%s.svc" .Release.Namespace }}
{{- end }}

{{/* The webhooks' namespaceSelector. */}}
{{- define "helm-hooks.namespaceSelector" -}}
{{- $exempt := concat .Values.webhooks.exemptNamespaces (list .Release.Namespace) | uniq -}}
{{- with .Values.webhooks.namespaceSelector.matchLabels }}
matchLabels:
  {{- toYaml . | nindent 2 }}
{{- end }}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ toJson $exempt }}
  - key: helm-hooks.io/webhook
    operator: NotIn
    values: [skip]
  {{- with .Values.webhooks.namespaceSelector.matchExpressions }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* What the apiserver sends: only hook objects. */}}
{{- define "helm-hooks.matchConditions" -}}
matchConditions:
  - name: is-helm-hook
    expression: "has(object.metadata.annotations) && 'helm.sh/hook' in object.metadata.annotations"
{{- end }}

{{/* Labels of the janitor's objects: deploy/components/janitor's two, plus Helm's. */}}
{{- define "helm-hooks.janitorLabels" -}}
app.kubernetes.io/name: helm-hooks-janitor
app.kubernetes.io/part-of: helm-hooks
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

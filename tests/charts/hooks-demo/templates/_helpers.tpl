{{/* Common labels. */}}
{{- define "hooks-demo.labels" -}}
app.kubernetes.io/name: hooks-demo
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Pod labels of the hook named .hook: the chart's labels plus the kwok outcome label the tests
inject through values failHook / hangHook. Call with (dict "root" $ "hook" "db-migrate").
*/}}
{{- define "hooks-demo.podLabels" -}}
{{ include "hooks-demo.labels" .root }}
app.kubernetes.io/component: {{ .hook }}
{{- if eq .root.Values.failHook .hook }}
helm-hooks.test/fail: "true"
{{- end }}
{{- if eq .root.Values.hangHook .hook }}
helm-hooks.test/hang: "true"
{{- end }}
{{- end }}

{{/* A hook container. Call with (dict "root" $ "hook" "db-migrate" "args" (list ...)). */}}
{{- define "hooks-demo.container" -}}
- name: {{ .hook }}
  image: {{ .root.Values.image }}
  command: ["/bin/sh", "-c"]
  args: [{{ .args | quote }}]
{{- end }}

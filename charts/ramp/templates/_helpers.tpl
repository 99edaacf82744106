{{/* The controller's name: its Deployment, ClusterRole and Lease holder. */}}
{{- define "ramp.name" -}}
ramp-controller
{{- end }}

{{- define "ramp.labels" -}}
app.kubernetes.io/name: {{ include "ramp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{- define "ramp.selector" -}}
app.kubernetes.io/name: {{ include "ramp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ramp.serviceAccount" -}}
{{ .Values.serviceAccount.name | default (include "ramp.name" .) }}
{{- end }}

{{- define "ramp.validate" -}}
{{- if not (has .Values.scope (list "cluster" "namespace")) }}
{{- fail (printf "scope: %q is neither cluster nor namespace" .Values.scope) }}
{{- end }}
{{- end }}

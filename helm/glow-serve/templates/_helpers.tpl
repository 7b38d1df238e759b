{{- define "glow-serve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "glow-serve.fullname" -}}
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

{{- define "glow-serve.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "glow-serve.labels" -}}
helm.sh/chart: {{ include "glow-serve.chart" . }}
{{ include "glow-serve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "glow-serve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "glow-serve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "glow-serve.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "glow-serve.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "glow-serve.apiKeySecret" -}}
{{- default (printf "%s-api-key" (include "glow-serve.fullname" .)) .Values.apiKey.existingSecret }}
{{- end }}

{{/* application.yaml: the user's config, plus what the chart's own values decide */}}
{{- define "glow-serve.applicationConfig" -}}
{{- $cfg := deepCopy .Values.config }}
{{- $glow := default dict $cfg.glow }}
{{- if .Values.gpu.enabled }}
{{- $_ := set $glow "device" "gpu" }}
{{- end }}
{{- if eq .Values.models.source "volume" }}
{{- $models := list }}
{{- range .Values.models.list }}
{{- $models = append $models (dict "name" .name "path" (printf "%s/%s" $.Values.models.mountPath .dir)) }}
{{- end }}
{{- $_ := set $glow "models" $models }}
{{- end }}
{{- $security := default dict $glow.security }}
{{- if .Values.apiKey.enabled }}
{{- $_ := set $security "api-key-file" "/etc/glow-serve/api-key/key" }}
{{- end }}
{{- if .Values.cors.allowedOrigins }}
{{- $_ := set $security "cors-allowed-origins" .Values.cors.allowedOrigins }}
{{- end }}
{{- if $security }}
{{- $_ := set $glow "security" $security }}
{{- end }}
{{- $_ := set $cfg "glow" $glow }}
{{- $server := default dict $cfg.server }}
{{- $_ := set $server "port" 8080 }}
{{- $_ := set $cfg "server" $server }}
{{- toYaml $cfg }}
{{- end }}

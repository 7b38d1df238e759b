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
{{- $grpc := default dict $glow.grpc }}
{{- $_ := set $grpc "port" 8081 }}
{{- $_ := set $glow "grpc" $grpc }}
{{- $_ := set $cfg "server" $server }}
{{- toYaml $cfg }}
{{- end }}

{{/* The container's environment: JVM options, the ConfigMap's application.yaml, the engine cache */}}
{{- define "glow-serve.env" -}}
- name: JAVA_TOOL_OPTIONS
  value: {{ printf "%s -Djava.io.tmpdir=/tmp" .Values.javaOpts | quote }}
- name: SPRING_CONFIG_ADDITIONAL_LOCATION
  value: /etc/glow-serve/config/application.yaml
- name: DJL_CACHE_DIR
  value: /var/cache/djl
{{- with (include "glow-serve.cpus" .) }}
# the cores the JVM, and so the engine's threads and the batching workers, size themselves by: the pod's CPUs, not the node's
- name: JDK_JAVA_OPTIONS
  value: {{ printf "-XX:ActiveProcessorCount=%s" . | quote }}
{{- end }}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The pod's CPUs, whole: cpus if set, else the CPU limit, else the request ("1500m" counts 2); empty if none is set */}}
{{- define "glow-serve.cpus" -}}
{{- $cpu := .Values.cpus | default (dig "limits" "cpu" "" .Values.resources) | default (dig "requests" "cpu" "" .Values.resources) | toString -}}
{{- if $cpu -}}
{{- if hasSuffix "m" $cpu -}}
{{- max 1 (div (add (trimSuffix "m" $cpu | int) 999) 1000) -}}
{{- else -}}
{{- max 1 (ceil ($cpu | float64)) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* Resources, with the GPU limit when gpu.enabled */}}
{{- define "glow-serve.resources" -}}
{{- $res := deepCopy .Values.resources }}
{{- if .Values.gpu.enabled }}
{{- $limits := default dict $res.limits }}
{{- $_ := set $limits .Values.gpu.resourceName (.Values.gpu.count | int) }}
{{- $_ := set $res "limits" $limits }}
{{- end }}
{{- toYaml $res }}
{{- end }}

{{/* Mounts: the config, the only writable paths (emptyDirs), the model volume and the API key */}}
{{- define "glow-serve.volumeMounts" -}}
- name: config
  mountPath: /etc/glow-serve/config
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: engine-cache
  mountPath: /var/cache/djl
{{- if eq .Values.models.source "volume" }}
- name: models
  mountPath: {{ .Values.models.mountPath }}
  readOnly: true
{{- end }}
{{- if .Values.apiKey.enabled }}
- name: api-key
  mountPath: /etc/glow-serve/api-key
  readOnly: true
{{- end }}
{{- end }}

{{- define "glow-serve.volumes" -}}
- name: config
  configMap:
    name: {{ include "glow-serve.fullname" . }}
- name: tmp
  emptyDir: {}
- name: engine-cache
  emptyDir: {}
{{- if eq .Values.models.source "volume" }}
- name: models
  {{- if not .Values.models.volume }}
  {{- fail "models.volume must name a volume source (e.g. persistentVolumeClaim) when models.source=volume" }}
  {{- end }}
  {{- toYaml .Values.models.volume | nindent 2 }}
{{- end }}
{{- if .Values.apiKey.enabled }}
- name: api-key
  secret:
    secretName: {{ include "glow-serve.apiKeySecret" . }}
    items:
      - key: {{ .Values.apiKey.secretKey }}
        path: key
{{- end }}
{{- end }}

{{/* nodeSelector, tolerations and affinity, with the GPU nodes' when gpu.enabled */}}
{{- define "glow-serve.scheduling" -}}
{{- $nodeSelector := .Values.nodeSelector }}
{{- if .Values.gpu.enabled }}
{{- $nodeSelector = merge (deepCopy .Values.gpu.nodeSelector) .Values.nodeSelector }}
{{- end }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $tolerations := .Values.tolerations }}
{{- if .Values.gpu.enabled }}
{{- $tolerations = concat .Values.tolerations .Values.gpu.tolerations }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

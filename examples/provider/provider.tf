terraform {
  required_providers {
    mrs = {
      source = "terraform.local/mrs/mrs"
    }
  }
}

# Credentials come from HW_ACCESS_KEY and HW_SECRET_KEY (and HW_SECURITY_TOKEN for
# temporary credentials); keep them out of configuration files.
provider "mrs" {
  region     = "cn-north-4"
  project_id = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
}
